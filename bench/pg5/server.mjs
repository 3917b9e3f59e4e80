// PostGraphile 5 for bench/run.py: the V4-compatible preset (the same generated names
// as PostGraphile 4, so one document serves both), schema `public`, no GraphiQL, no
// watch, JWTs verified as PostGraphile 4 does (PgLazyJWTPreset), one process.
// Environment: DATABASE_URL, HOST, PORT, POOL_SIZE, JWT_SECRET, JWT_AUDIENCE, JWT_ISSUER.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PgLazyJWTPreset } from "postgraphile/presets/lazy-jwt";
import { makeV4Preset } from "postgraphile/presets/v4";

const env = process.env;
const preset = {
  extends: [
    makeV4Preset({ jwtSecret: env.JWT_SECRET, disableQueryLog: true, graphiql: false }),
    PgLazyJWTPreset,
  ],
  pgServices: [
    makePgService({
      connectionString: env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(env.POOL_SIZE || 10) },
      pubsub: false,
    }),
  ],
  grafserv: {
    graphiql: false,
    watch: false,
    pgJwtVerifyOptions: {
      algorithms: ["HS256"],
      audience: env.JWT_AUDIENCE,
      issuer: env.JWT_ISSUER,
    },
  },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
server.listen(Number(env.PORT), env.HOST || "127.0.0.1", () => {
  console.log(`PostGraphile 5 listening on ${env.HOST || "127.0.0.1"}:${env.PORT}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
