import type { ReportKind, ReportParamsOf } from "@finanzas/contracts";
import { agedBalance } from "./aged-balance.js";
import type { BuildContext } from "./common.js";
import { generalLedgerReport } from "./general-ledger.js";
import { invoiceRegisterReport } from "./invoice-register.js";
import { partnerStatementReport } from "./partner-statement.js";
import { trialBalanceReport } from "./trial-balance.js";

export type { BuildContext } from "./common.js";

/** Each report kind: its title, and how its rows become a workbook. A missing kind does not compile. */
export const REPORTS: {
  [K in ReportKind]: {
    title: string;
    build: (ctx: BuildContext, params: ReportParamsOf<K>) => Promise<void>;
  };
} = {
  "aged-balance": { title: "Aged balance", build: agedBalance },
  "general-ledger": { title: "General ledger", build: generalLedgerReport },
  "trial-balance": { title: "Trial balance", build: trialBalanceReport },
  "invoice-register": { title: "Invoice register", build: invoiceRegisterReport },
  "partner-statement": { title: "Statement of account", build: partnerStatementReport },
};
