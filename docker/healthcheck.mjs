// The HEALTHCHECK of the service images (web-api and the workers), run by Docker as
// `node healthcheck.mjs` in /app: GET /health/ready on the port the service listens on, exit 0 when
// it answers 200, 1 otherwise (not listening, 503 while PostgreSQL or Redis is down or during
// shutdown, invalid configuration).
//
// The port comes from the service's own config (dist/config.js, the same schema and defaults the
// service parsed at boot), so it is PORT for web-api and HEALTH_PORT for a worker without this
// file knowing which service it is in.
const { readConfig } = await import(new URL("./dist/config.js", import.meta.url).href);
const config = readConfig(process.env);
const port = config.PORT ?? config.HEALTH_PORT;

try {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    signal: AbortSignal.timeout(2_500),
  });
  if (!response.ok) console.error(`/health/ready answered ${response.status}: ${await response.text()}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  const reason = error instanceof Error ? (error.cause?.code ?? error.message) : String(error);
  console.error(`/health/ready on port ${port}: ${reason}`);
  process.exit(1);
}
