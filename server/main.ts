// Runs the server: buildApp + listen, and a graceful shutdown on SIGTERM / SIGINT that stops
// accepting connections, lets requests in flight finish, and closes every part (its onClose hooks
// flush and fsync the audit, feedback and decision logs and stop the simulation pool) before the
// process exits. `gaelp serve` (trainer/cli.ts) calls serve(); `node dist/server/main.js` reads the
// same settings from the environment (GAELP_* variables, see README).
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type App, type AppOptions, buildApp, warmUp } from "./app.js";

export interface ServeOptions extends AppOptions {
  host: string;
  port: number;
  /** longest wait for requests in flight and log flushing on shutdown (ms, default 10 s) */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  app: App;
  /** http://host:port */
  url: string;
  /** resolves when the server has closed (after a signal or close()) */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function serve(opts: ServeOptions, log: (line: string) => void = (l) => process.stderr.write(l + "\n")): Promise<RunningServer> {
  const app = await buildApp(opts);
  await warmUp(app);
  const url = await app.listen({ host: opts.host, port: opts.port });
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const timer = setTimeout(() => {
        log(`gaelp serve: shutdown took longer than ${opts.shutdownTimeoutMs ?? 10_000} ms; exiting`);
        process.exit(1);
      }, opts.shutdownTimeoutMs ?? 10_000);
      timer.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        resolveClosed();
      }
    })();
    return closing;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`gaelp serve: ${sig}: finishing requests in flight and flushing logs`);
    void close().then(() => log("gaelp serve: closed"));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const p = app.gaelp.policy.current();
  log(`gaelp serve: listening on ${url}; ${p === undefined ? "no policy loaded" : `serving ${p.run} (checkpoint step ${p.step})`}; API docs at ${url}/docs`);
  return { app, url, closed, close };
}

function envOptions(env: NodeJS.ProcessEnv): ServeOptions {
  const num = (k: string, d: number): number => {
    const v = env[k];
    if (v === undefined || v === "") return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${k} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    host: env.GAELP_HOST ?? "127.0.0.1",
    port: num("GAELP_PORT", 8080),
    runsRoot: env.GAELP_RUNS ?? "runs",
    dataDir: env.GAELP_DATA ?? "server-data",
    checkpoint: env.GAELP_CHECKPOINT || undefined,
    apiKeys: env.GAELP_API_KEYS ? env.GAELP_API_KEYS.split(",").map((k) => k.trim()).filter((k) => k !== "") : undefined,
    deadlineMs: num("GAELP_DEADLINE_MS", 10),
    logger: env.GAELP_LOG === "1" ? { level: "info" } : false,
  };
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  serve(envOptions(process.env)).then((s) => s.closed).catch((e: Error) => {
    process.stderr.write(`gaelp serve: ${e.message}\n`);
    process.exitCode = 1;
  });
}
