/**
 * Settings remembered in localStorage. The password never goes there (a plain-text SIP
 * password on disk, readable by any script of the origin, outlives the session): when the
 * user asks to remember it, it is kept in sessionStorage only (this tab, until it closes),
 * and the form's autocomplete fields let the browser's password manager offer to save it.
 */
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
const PASSWORD_KEY = 'softphone.password';

function sessionPassword(session: Storage | null | undefined): string {
  try {
    return session?.getItem(PASSWORD_KEY) ?? '';
  } catch {
    return '';
  }
}

export function defaultServer(loc: Pick<Location, 'hostname'> | undefined): string {
  const host = loc?.hostname || 'localhost';
  return `wss://${host}:8189/ws`;
}

export function loadSettings(
  storage: Storage | null,
  loc?: Pick<Location, 'hostname'>,
  session?: Storage | null,
): Settings {
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
  if ('password' in r) {
    // written by an older version: the password leaves localStorage now
    const { password: _dropped, ...rest } = r;
    storage?.setItem(KEY, JSON.stringify(rest));
  }
  return {
    server: str('server'),
    extension: str('extension'),
    password: remember ? sessionPassword(session) : '',
    displayName: str('displayName'),
    rememberPassword: remember,
    microphoneId: str('microphoneId'),
    speakerId: str('speakerId'),
  };
}

export function saveSettings(storage: Storage | null, s: Settings, session?: Storage | null): void {
  const { password, ...stored } = s;
  storage?.setItem(KEY, JSON.stringify(stored));
  try {
    if (s.rememberPassword && password) session?.setItem(PASSWORD_KEY, password);
    else session?.removeItem(PASSWORD_KEY);
  } catch {
    // storage disabled: nothing is remembered
  }
}
