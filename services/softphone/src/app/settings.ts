/** Settings remembered in localStorage; the password only when the user asks for it. */
export interface Settings {
  server: string;
  extension: string;
  password: string;
  displayName: string;
  rememberPassword: boolean;
  microphoneId: string;
  speakerId: string;
}

const KEY = 'softphone.settings';

export function defaultServer(loc: Pick<Location, 'hostname'> | undefined): string {
  const host = loc?.hostname || 'localhost';
  return `wss://${host}:8189/ws`;
}

export function loadSettings(storage: Storage | null, loc?: Pick<Location, 'hostname'>): Settings {
  const base: Settings = {
    server: defaultServer(loc),
    extension: '1004',
    password: '',
    displayName: '',
    rememberPassword: false,
    microphoneId: '',
    speakerId: '',
  };
  let raw: unknown = null;
  try {
    raw = JSON.parse(storage?.getItem(KEY) ?? 'null');
  } catch {
    raw = null;
  }
  if (typeof raw !== 'object' || raw === null) return base;
  const r = raw as Record<string, unknown>;
  const str = (k: keyof Settings): string => (typeof r[k] === 'string' ? (r[k] as string) : (base[k] as string));
  const remember = r.rememberPassword === true;
  return {
    server: str('server'),
    extension: str('extension'),
    password: remember ? str('password') : '',
    displayName: str('displayName'),
    rememberPassword: remember,
    microphoneId: str('microphoneId'),
    speakerId: str('speakerId'),
  };
}

export function saveSettings(storage: Storage | null, s: Settings): void {
  const stored = { ...s, password: s.rememberPassword ? s.password : '' };
  storage?.setItem(KEY, JSON.stringify(stored));
}
