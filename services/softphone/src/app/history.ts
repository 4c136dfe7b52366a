/** The local call history (newest first, at most MAX entries) kept in localStorage. */
import type { CallRecord } from '../sip/phone';

const KEY = 'softphone.history';
export const MAX_HISTORY = 50;

const RESULTS = new Set(['answered', 'missed', 'rejected', 'failed', 'canceled', 'transferred']);

function isRecord(v: unknown): v is CallRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (r.direction === 'incoming' || r.direction === 'outgoing')
    && typeof r.peer === 'string' && typeof r.startedAt === 'number'
    && typeof r.durationS === 'number' && typeof r.result === 'string' && RESULTS.has(r.result);
}

export function loadHistory(storage: Storage | null): CallRecord[] {
  try {
    const v: unknown = JSON.parse(storage?.getItem(KEY) ?? '[]');
    return Array.isArray(v) ? v.filter(isRecord).slice(0, MAX_HISTORY) : [];
  } catch {
    return [];
  }
}

export function addToHistory(storage: Storage | null, list: CallRecord[], record: CallRecord): CallRecord[] {
  const next = [record, ...list].slice(0, MAX_HISTORY);
  storage?.setItem(KEY, JSON.stringify(next));
  return next;
}

export function clearHistory(storage: Storage | null): CallRecord[] {
  storage?.removeItem(KEY);
  return [];
}
