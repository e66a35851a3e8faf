import { createOdooClient, type OdooClient, type OdooClientOptions } from "@finanzas/odoo";
import { type OdooSim, type OdooSimOptions, startOdooSim } from "@finanzas/odoo-sim";

export interface TestOdoo {
  sim: OdooSim;
  /** A client of the simulator over real HTTP, with short retries. */
  odoo: OdooClient;
  close(): Promise<void>;
}

/** The Odoo simulator on a free port with generated data (scale 0.05 ≈ 500 journal items), and a client of it. */
export async function startTestOdoo(
  options: OdooSimOptions = {},
  client: Partial<OdooClientOptions> = {},
): Promise<TestOdoo> {
  const sim = await startOdooSim({ seed: 7, scale: 0.05, ...options });
  const odoo = createOdooClient({
    url: sim.url,
    db: sim.database,
    username: sim.username,
    password: sim.password,
    retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    ...client,
  });
  return {
    sim,
    odoo,
    async close() {
      await odoo.close();
      await sim.close();
    },
  };
}
