import type { AppTables } from "./tables/app.js";
import type { EtlTables } from "./tables/etl.js";
import type { MailTables } from "./tables/mail.js";
import type { OdooTables } from "./tables/odoo.js";
import type { ReportTables } from "./tables/reports.js";

/**
 * The one Database interface: every table the services read or write, keyed by
 * "schema.table". Each area keeps its table interfaces in its own file under tables/; application
 * code uses Selectable/Insertable/Updateable of these, never the table interfaces directly.
 */
export interface Database extends AppTables, EtlTables, MailTables, OdooTables, ReportTables {}
