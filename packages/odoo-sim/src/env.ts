/** Odoo's `env` for one call: the user, their companies, active_test and the call's context. */
export interface Env {
  uid: number;
  /** env.companies: allowed_company_ids, else every company of the user. */
  companies: number[];
  /** env.company: the first allowed company, else the user's main company. */
  company: number;
  activeTest: boolean;
  context: Record<string, unknown>;
}
