/**
 * The synced copy of Odoo, schema `odoo`: one table per registered model (`odoo.account_move`),
 * id = the Odoo id, one column per synced field, plus `_synced_at` and `_deleted_at`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: tables arrive with the ETL's model registry
export interface OdooTables {}
