import { useEffect, useState } from 'react';

/** "mm:ss" (or "h:mm:ss") since `since`, ticking every second; "00:00" before. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function useCallTimer(since: number | null, clock: () => number = Date.now): string {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    if (since === null) return undefined;
    setNow(clock());
    const t = setInterval(() => setNow(clock()), 1000);
    return () => clearInterval(t);
  }, [since, clock]);
  return since === null ? '00:00' : formatDuration((now - since) / 1000);
}
