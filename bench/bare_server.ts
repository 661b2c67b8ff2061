// The server bench's control: a bare Fastify server with one POST /v1/bid route that parses the
// JSON body and answers a fixed object of the same shape as gaelp's bid answer, with no schema,
// hook, plugin or policy. Driven by the same autocannon load as gaelp's server, it measures what
// the load generator, Node's HTTP stack and loopback TCP cost on this machine with no gaelp work:
// the floor under server.bid.p99_ms and server.bid.main_cpu_us_per_req.
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.post("/v1/bid", async (req) => ({
  status: "bid", campaignId: (req.body as { campaignId?: string }).campaignId ?? "", bid: 0.4000000059604645, bidId: "0123456789-1x3f",
  bidLevel: 3, multiplier: 0.800000011920929, creative: 0, value: 0.12345679104328156, policyVersion: 1, deterministic: true,
}));
const url = await app.listen({ host: "127.0.0.1", port: 0 });
process.stderr.write(`listening on ${url}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
