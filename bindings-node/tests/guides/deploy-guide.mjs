// The deploy guide's TypeScript example ("agent spawns a sub-agent"), as printed,
// on the embedded runtime. Lines marked "test:" are not the guide's: the research
// agent's `docs`, and the `batch-processor` template the example deploys (here a
// JavaScript template that embeds nothing: it reports what it was given).
import { heroa } from "@heroa/sdk";

// test: the guide's context.
const docs = ["a quarterly report", "a press release", "a product brief"];
heroa.client.template("batch-processor", async (ctx) => ({ // test:
  processed: ctx.input.items.length, task: ctx.input.task, runId: ctx.runId, // test:
})); // test:

const worker = await heroa.deploy({
  mode: "agent",
  template: "batch-processor",
  region: "us-east",
  ttl: "30m"
});

const out = await worker.run({ input: { items: docs, task: "embed" } });

// test: what the test checks.
console.log(`test: ${JSON.stringify({ mode: worker.mode, handle: worker.handle, expiresAt: worker.expiresAt, status: out.status, output: out.output })}`);
