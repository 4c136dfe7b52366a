import { useEffect, useState } from 'react';

export interface Devices {
  microphones: MediaDeviceInfo[];
  speakers: MediaDeviceInfo[];
}

/** Audio inputs and outputs, refreshed when devices change (labels appear after mic permission). */
export function useDevices(refreshKey: unknown): Devices {
  const [devices, setDevices] = useState<Devices>({ microphones: [], speakers: [] });
  useEffect(() => {
    const md = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
    if (!md?.enumerateDevices) return undefined;
    let alive = true;
    const load = () => {
      md.enumerateDevices().then((list) => {
        if (!alive) return;
        setDevices({
          microphones: list.filter((d) => d.kind === 'audioinput'),
          speakers: list.filter((d) => d.kind === 'audiooutput'),
        });
      }).catch(() => undefined);
    };
    load();
    md.addEventListener?.('devicechange', load);
    return () => {
      alive = false;
      md.removeEventListener?.('devicechange', load);
    };
  }, [refreshKey]);
  return devices;
}
