/**
 * The one Database interface: every table the services read or write, keyed by
 * "schema.table". Tables arrive with the migrations that create them (the ETL's `odoo.*` model
 * tables and bookkeeping, the web-api's users); application code uses Selectable/Insertable/
 * Updateable of these, never the table interfaces directly.
 */
// biome-ignore lint/suspicious/noEmptyInterface: tables are added by the issues that create them
export interface Database {}
