import type { Window } from '../core/checkpoint';
import { offsetPaging } from '../core/paging';
import { isStop } from '../core/run';
import { CDR_FINDINGS_PATH, listFindings } from '../qualys/cdr';
import type { Page } from '../qualys/schemas';
import type { FreshByHour, RunContext, WindowReport } from './context';
import { type RawPage, writePage } from './write-page';

export type {
  CdrFindingsDependencies,
  CdrFindingsSummary,
  CdrJournalEntry,
  FreshByHour,
  RunContext,
  WindowReport,
} from './context';

/**
 * The one reader of a CDR window, whatever its kind (new, settle, reconcile, explicit replay):
 * pages are archived, screened, curated and alerted as they arrive, and progress is handed to the
 * caller after each page to save.
 */

export interface WindowRead {
  window: Window;
  kind: WindowReport['kind'];
  /** Cursor (offset) of the first page to read. */
  cursor: number;
  /** `limit` of each call. */
  pageSize: number;
  /** After a page is written: true when the rest of the window can be skipped. */
  enough?: (page: Page, offset: number, fresh: FreshByHour) => boolean;
  /** Saves progress after a page: the next cursor, or undefined once the window is done. */
  save: (next: number | undefined, fresh: FreshByHour) => Promise<void>;
}

/** Reads one window from `read.cursor` to its end, or until a stop signal; saves after each page. */
export async function readWindow(context: RunContext, read: WindowRead): Promise<WindowReport> {
  const { run, deps, call } = context;
  const { window } = read;
  const report: WindowReport = {
    ...window,
    kind: read.kind,
    pages: 0,
    findings: 0,
    newFindings: 0,
    complete: false,
  };
  run.summary.windows.push(report);
  // What earlier runs left is counted in the time kept for the merge (collector.ts) before a call.
  await context.journal.listing;
  const fetchPage = async (offset: number, landed: () => Promise<void>): Promise<RawPage> => {
    const query = {
      query: deps.settings.query,
      startAt: window.startAt,
      endAt: window.endAt,
      offSet: offset,
      limit: read.pageSize,
    };
    const { body, raw } = await listFindings(deps.qualys, query, call, landed);
    return { ...body, raw };
  };
  // A settle read may stop after its first page (the count matched): read ahead only once it did not.
  let readAhead = read.enough === undefined;
  // Progress past pages that added nothing is saved with the next page that does, or at the end:
  // the checkpoint is written when it matters, and a run cut off in between reads those pages again.
  let unsaved: (() => Promise<void>) | undefined;
  // A page's checkpoint is written while the next page is read and judged, not waited for: it starts
  // only once the page is recorded (its journal entry, in writePage), each waits for the one before
  // it, so they land in order, and one that fails stops the read at the first page after it is known
  // (or at the end), even past pages that add nothing and save no checkpoint of their own.
  let saving: Promise<void> | undefined;
  let savingFailed = false;
  const checkpointed = async () => {
    const pending = saving;
    saving = undefined;
    await pending;
  };
  let failure: { error: unknown } | undefined;
  try {
    for await (const { cursor: offset, next, page } of offsetPaging({
      endpoint: `GET ${CDR_FINDINGS_PATH} (window ${window.startAt} to ${window.endAt})`,
      fetchPage,
      start: read.cursor,
      limit: read.pageSize,
      concurrency: () => (readAhead ? deps.qualys.budget.concurrencyLimit : 0),
    })) {
      if (savingFailed) await checkpointed();
      // Counted first: the page's items are let go once it is judged (write-page.ts).
      const rows = page.content.length;
      const { fresh, freshByHour } = await writePage(context, window, offset, page);
      for (const counts of [report, run.summary]) {
        counts.pages++;
        counts.findings += rows;
        counts.newFindings += fresh;
      }
      if (read.kind === 'settle' || read.kind === 'reconcile') run.summary.lateFindings += fresh;
      const matched = next !== undefined && (read.enough?.(page, offset, freshByHour) ?? false);
      readAhead = !matched;
      const save = () => read.save(matched ? undefined : next, freshByHour);
      if (matched) report.countMatched = true;
      if (matched || next === undefined || fresh > 0) {
        unsaved = undefined;
        await checkpointed();
        saving = save();
        // Its failure is thrown before the next page is written, or at the end of the read.
        saving.catch(() => {
          savingFailed = true;
        });
      } else {
        unsaved = save;
      }
      if (matched || next === undefined) {
        report.complete = true;
        break;
      }
    }
  } catch (error) {
    failure = { error };
  }
  try {
    await checkpointed();
  } catch (error) {
    // A checkpoint that could not be written fails the run, even one that was stopping anyway (the
    // deadline, the budget): it must not end as merely stopped early.
    if (failure && !isStop(failure.error)) {
      run.logger.warn('The checkpoint of the last page read could not be saved either', {
        error: (error as Error).message,
      });
    } else {
      failure = { error };
    }
  }
  // After the last checkpoint started, which this one supersedes: it is computed from the same state.
  await unsaved?.().catch((error: unknown) =>
    run.logger.warn(
      'Could not save the cursor past pages that added nothing; the next run reads them again',
      {
        error: (error as Error).message,
      },
    ),
  );
  if (failure) throw failure.error;
  return report;
}
