import type Koa from 'koa';
import type { Context, Next } from 'koa';
import koa2 from 'koa2';
import koa3 from 'koa3';

export const majors = [
  { major: 2, Koa: koa2 },
  { major: 3, Koa: koa3 },
] as const;

export type KoaApp = Koa;
type Middleware = (ctx: Context, next: Next) => Promise<void>;

/** Routes `path` (any method) through `breaker` to `handler`, the way a router would. */
export function mount(
  app: KoaApp,
  path: string,
  breaker: Middleware,
  handler: (ctx: Context) => unknown | Promise<unknown>,
): void {
  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path !== path) return next();
    await breaker(ctx, async () => {
      await handler(ctx);
    });
  });
}

/** A Koa app that keeps its error logging quiet. */
export function createApp(Application: typeof koa2): KoaApp {
  const app = new Application();
  app.silent = true;
  return app;
}
