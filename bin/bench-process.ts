/**
 * How the processes of `npm run bench` talk: the parent sends `{ id, type, payload }` over Node's
 * IPC channel and the child answers `{ id, result }` or `{ id, error }`. A child exits when the
 * channel closes. Both sides live here; the measured child (bench-child.ts) imports only this and
 * node: built-ins, so its RSS is the bundle's and Node's.
 */
import { spawn } from 'node:child_process';

type Handler = (payload: never) => unknown;

interface Request {
  id: number;
  type: string;
  payload: unknown;
}

type Answer = { id: number; result: unknown } | { id: number; error: string } | { ready: true };

export interface Child {
  pid: number;
  call<T>(type: string, payload?: unknown): Promise<T>;
  /** Closes the channel and waits for the child to exit. */
  close(): Promise<void>;
}

/**
 * Starts `node <args>` with an IPC channel (stdout discarded, as a Lambda's log lines would leave
 * the process; stderr shown) and resolves once the child serves requests.
 */
export function startChild(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Child> {
  const child = spawn(process.execPath, args, {
    // With BENCH_NODE_FLAGS (a --trace-gc, say), what V8 prints goes to stderr, beside the progress.
    stdio: ['ignore', process.env.BENCH_NODE_FLAGS ? 2 : 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
    env,
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolveStart, rejectStart) => {
    child.once('exit', (code, signal) => {
      const error = new Error(`bench child ${args.join(' ')} exited (${signal ?? code})`);
      rejectStart(error);
      for (const { reject } of pending.values()) reject(error);
      pending.clear();
    });
    child.on('message', (answer: Answer) => {
      if ('ready' in answer) {
        resolveStart({
          pid: child.pid ?? 0,
          call: <T>(type: string, payload?: unknown) =>
            new Promise<T>((resolve, reject) => {
              const id = ++nextId;
              pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
              child.send({ id, type, payload } satisfies Request);
            }),
          close: async () => {
            if (child.connected) child.disconnect();
            await exited;
          },
        });
        return;
      }
      const waiting = pending.get(answer.id);
      pending.delete(answer.id);
      if ('error' in answer) waiting?.reject(new Error(answer.error));
      else waiting?.resolve(answer.result);
    });
  });
}

/** The child's side: answers each request with its handler; `onClose` runs when the parent lets go. */
export function serve(handlers: Record<string, Handler>, onClose: () => Promise<void> | void = () => {}) {
  const send = (answer: Answer) => process.send?.(answer);
  process.on('message', async ({ id, type, payload }: Request) => {
    try {
      const handler = handlers[type];
      if (!handler) throw new Error(`no handler for ${type}`);
      send({ id, result: await handler(payload as never) });
    } catch (error) {
      send({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
  process.once('disconnect', async () => {
    await onClose();
    process.exit(0);
  });
  send({ ready: true });
}
