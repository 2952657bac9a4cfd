/**
 * The `qualys-lake` command (bin/cli.mjs runs it). Exit codes, the same for every verb:
 * 0 done and all well; 1 a check failed, a collector is behind or a window failed; 2 the command was
 * called wrongly (an unknown verb or option, a missing value); 3 only the gateway's rate limit stood
 * in the way (doctor: try again later).
 */
import { Command, CommanderError, Option } from 'commander';
import { BACKFILL_LIMITS } from '../../lib/backfill-limits';
import { formatTable } from '../../tools/local-lake/duckdb';
import { doctor, doctorExitCode, formatDoctor } from './doctor';
import { subscriptionSecretId } from './doctor-secret';
import { bucketSource, type LakeSource, localSource } from './lake-source';
import {
  DEFAULT_LAKE,
  DEFAULT_OUTPUTS,
  isoTime,
  localDir,
  outputEnding,
  positive,
  rateLimit,
  stackOutputs,
  UsageError,
} from './options';
import { listQueries, queryAthena, queryLocal } from './query';
import { runStatus } from './status-command';

export const EXIT = { ok: 0, failed: 1, usage: 2, rateLimited: 3 } as const;

type Print = (text: string) => void;

export async function main(argv: string[], print: Print = console.log, printError: Print = console.error) {
  let exitCode: number = EXIT.ok;
  const program = new Command('qualys-lake')
    .description('Operate a qualys-lake deployment: check Qualys access, see freshness, backfill, query.')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => print(text.trimEnd()),
      writeErr: (text) => printError(text.trimEnd()),
    });

  program
    .command('doctor')
    .description(
      'Check the gateway URL, the login, CDR findings, every SaaSDR list and one posture report, one call each',
    )
    .option('--base-url <url>', 'the Qualys API gateway, e.g. https://gateway.qg1.apps.qualys.com')
    .option('--username <user>', 'the API user (the password comes from QUALYS_PASSWORD, never an argument)')
    .option(
      '--secret-id <id>',
      'read baseUrl, username and password from this Secrets Manager secret instead',
    )
    .option(
      '--subscription <name>',
      'without --secret-id: read the secret of this subscription of the stack (from the outputs file)',
    )
    .option(
      '--outputs <file>',
      `the stack outputs of \`cdk deploy --outputs-file\` (default ./${DEFAULT_OUTPUTS})`,
    )
    .option('--allow-host <host...>', 'hosts to accept besides the Qualys gateways (as QUALYS_ALLOWED_HOSTS)')
    .option('--allow-http-loopback', 'accept plain http to 127.0.0.1 (the local simulator)')
    .option('--no-cdr', 'skip the CDR check (a subscription without CDR)')
    .option('--no-saasdr', 'skip the SaaSDR checks (a subscription without SaaSDR)')
    .addOption(new Option('--timeout <ms>', 'per call').default(15_000).argParser(positive('--timeout')))
    .option('--json', 'print the report as JSON')
    .action(async (options) => {
      const credentials = await doctorCredentials(options);
      const report = await doctor({
        ...credentials,
        gateway: {
          allowedHosts: options.allowHost?.map((host: string) => host.trim().toLowerCase()) ?? hostsFromEnv(),
          allowHttpLoopback: options.allowHttpLoopback ?? process.env.QUALYS_ALLOW_HTTP_LOOPBACK === 'true',
        },
        cdr: options.cdr,
        saasdr: options.saasdr,
        timeoutMs: options.timeout,
      });
      print(options.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      exitCode = doctorExitCode(report);
    });

  program
    .command('status')
    .description(
      'Per collector: how far behind it is, what it last completed, alerts waiting; the call budget',
    )
    .option('--local [dir]', `read the local lake (default ./${DEFAULT_LAKE}, written by npm start)`)
    .option(
      '--bucket <name>',
      "read the deployed stack's archive bucket (AWS credentials from the environment)",
    )
    .option(
      '--outputs <file>',
      `the stack outputs of \`cdk deploy --outputs-file\` (default ./${DEFAULT_OUTPUTS})`,
    )
    .option('--no-metrics', 'skip the last run and last success from CloudWatch (deployed stacks)')
    .option('--subscription <name>', 'show only this subscription (default: every one of the stack)')
    .option('--json', 'print the status as JSON (a list when there are several subscriptions)')
    .action(async (options) => {
      exitCode = await runStatus(options, lakeSourceFrom(options), print);
    });

  program
    .command('query')
    .description('Run a named query or SQL and print a table: DuckDB on the local lake, or Athena')
    .argument('[query]', 'a named query (see --list) or SQL in quotes')
    .argument('[parameters...]', "values for the named query's parameters, in order (default: its examples)")
    .option('--list', 'list the named queries and their parameters')
    .option('--local [dir]', `query the local lake with DuckDB (default ./${DEFAULT_LAKE})`)
    .option('--workgroup <name>', 'Athena workgroup (default: from the outputs file, else qualys-lake)')
    .option('--database <name>', 'Glue database (default: from the outputs file, else qualys_lake)')
    .option(
      '--outputs <file>',
      `the stack outputs of \`cdk deploy --outputs-file\` (default ./${DEFAULT_OUTPUTS})`,
    )
    .addOption(new Option('--max-rows <n>', 'rows to print').default(50).argParser(positive('--max-rows')))
    .addOption(
      new Option('--timeout <ms>', 'wait for Athena').default(120_000).argParser(positive('--timeout')),
    )
    .action(async (query: string | undefined, parameters: string[], options) => {
      if (options.list || !query) {
        print(listQueries());
        return;
      }
      const request = { query, parameters };
      const rows =
        options.local !== undefined
          ? await queryLocal(localDir(options.local), request)
          : await queryAthena(athenaTarget(options), request);
      print(formatTable(rows, options.maxRows, 60));
    });

  program
    .command('backfill')
    .description('Replay a historical CDR range window by window (never moves the incremental checkpoint)')
    .requiredOption(
      '--from <time>',
      'start of the range, ISO 8601 (e.g. 2026-11-01T00:00:00Z)',
      isoTime('--from'),
    )
    .requiredOption('--to <time>', 'end of the range, ISO 8601', isoTime('--to'))
    .addOption(
      new Option('--window-hours <h>', 'hours per window').default(24).argParser(positive('--window-hours')),
    )
    .option('--alerts', 'send alerts for what the replay finds (off by default for a backfill)', false)
    .option('--state-machine <arn>', "the stack's backfill state machine (default: from the outputs file)")
    .option('--function <name>', 'invoke this cdr-findings function directly instead, window by window')
    .option('--subscription <name>', 'the subscription to replay (required when the stack serves several)')
    .option(
      '--outputs <file>',
      `the stack outputs of \`cdk deploy --outputs-file\` (default ./${DEFAULT_OUTPUTS})`,
    )
    .option(
      '--local [dir]',
      `run against the simulator and fauxqs; mirror the lake to dir (default ./${DEFAULT_LAKE})`,
    )
    .addOption(
      new Option('--rate-limit <calls/seconds>', 'with --local: the limit the simulator announces')
        .default({ limit: 10_000, windowSec: 3600 }, '10000/3600')
        .argParser(rateLimit),
    )
    .addOption(
      new Option('--page-size <n>', 'with --local: findings per call (CDR_PAGE_SIZE)')
        .default(1000)
        .argParser(positive('--page-size')),
    )
    .addOption(
      new Option('--max-attempts <n>', 'invocations of one window')
        .default(BACKFILL_LIMITS.attemptsPerWindow)
        .argParser(positive('--max-attempts')),
    )
    .addOption(
      new Option('--max-wait-minutes <m>', 'longest wait for the budget between attempts')
        .default(BACKFILL_LIMITS.maxWaitSeconds / 60)
        .argParser(positive('--max-wait-minutes')),
    )
    .action(async (options) => {
      const { runBackfill } = await import('./backfill-command');
      exitCode = await runBackfill(options, print, printError);
    });

  program
    .command('upgrade')
    .description(
      "Move a single-subscription deployment's state and curated data into subscription default's layout",
    )
    .option('--bucket <name>', "the deployed stack's archive bucket (AWS credentials from the environment)")
    .option('--local [dir]', `the local lake (default ./${DEFAULT_LAKE})`)
    .option('--dry-run', 'count what would be copied; write and delete nothing')
    .option('--delete-legacy', 'delete the legacy objects once their copies are verified')
    .action(async (options) => {
      const { upgradeCommand } = await import('./upgrade');
      await upgradeCommand(options, print);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      printError(`qualys-lake: ${error.message}`);
      return EXIT.usage;
    }
    printError(`qualys-lake: ${(error as Error).message}`);
    return EXIT.failed;
  }
}

const hostsFromEnv = () =>
  (process.env.QUALYS_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((host) => host.trim().toLowerCase())
    .filter(Boolean);

async function doctorCredentials(options: {
  baseUrl?: string;
  username?: string;
  secretId?: string;
  subscription?: string;
  outputs?: string;
}) {
  const secretId =
    options.secretId ??
    (options.subscription === undefined
      ? undefined
      : subscriptionSecretId(
          options.subscription,
          stackOutputs(options.outputs),
          options.outputs ?? DEFAULT_OUTPUTS,
        ));
  if (secretId) {
    const { secretLoader } = await import('../../functions/aws/secret');
    const secret = (await secretLoader(secretId)(true)) as Record<string, unknown>;
    const field = (name: string) => {
      const value = secret[name];
      // A failed check (exit 1), not a mistake in the command.
      if (typeof value !== 'string' || value === '')
        throw new Error(`the secret ${secretId} has no "${name}" string`);
      return value;
    };
    return {
      baseUrl: options.baseUrl ?? field('baseUrl'),
      username: options.username ?? field('username'),
      password: field('password'),
    };
  }
  if (!options.baseUrl || !options.username)
    throw new UsageError(
      'doctor needs --base-url and --username (password in QUALYS_PASSWORD), --secret-id, or --subscription',
    );
  const password = process.env.QUALYS_PASSWORD;
  if (!password) throw new UsageError('set QUALYS_PASSWORD to the API password (it is never an argument)');
  return { baseUrl: options.baseUrl, username: options.username, password };
}

function athenaTarget(options: { workgroup?: string; database?: string; outputs?: string; timeout: number }) {
  const outputs = options.workgroup && options.database ? {} : stackOutputs(options.outputs);
  return {
    workGroup: options.workgroup ?? outputEnding(outputs, 'AthenaWorkGroupName') ?? 'qualys-lake',
    database: options.database ?? outputEnding(outputs, 'GlueDatabaseName') ?? 'qualys_lake',
    timeoutMs: options.timeout,
  };
}

function lakeSourceFrom(options: { local?: string | true; bucket?: string; outputs?: string }): LakeSource {
  if (options.local !== undefined) return localSource(localDir(options.local));
  const bucket = options.bucket ?? outputEnding(stackOutputs(options.outputs), 'ArchiveBucketName');
  if (!bucket)
    throw new UsageError(
      `name the lake: --bucket NAME, --outputs FILE (cdk deploy --outputs-file), or --local for ./${DEFAULT_LAKE}`,
    );
  return bucketSource(bucket);
}
