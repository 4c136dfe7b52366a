/**
 * The errors the softphone shows, with their Portuguese text.
 *
 *   PhoneError
 *   ├── wrong-password      registration answered 401/403 to our credentials
 *   ├── certificate         the WSS never opened and this browser never reached this server:
 *   │                       most likely its self-signed certificate is not accepted yet
 *   ├── unreachable         the WSS never opened (server down, wrong host/port, firewall)
 *   ├── connection-lost     the WSS closed after working; re-registration is automatic
 *   ├── mic-denied          getUserMedia refused (NotAllowedError)
 *   ├── no-microphone       getUserMedia found no device (NotFoundError)
 *   ├── invalid-settings    the form is incomplete or the URL is not ws:// / wss://
 *   └── call-failed         a call ended with an error (busy, not found, ...)
 *
 * A browser does not tell a page why a WebSocket failed, so `certificate` and `unreachable`
 * are told apart by whether this browser has ever connected to that server (remembered
 * per host:port in localStorage): see `classifyConnectFailure`.
 */
import type { FailureCause } from './types';

export type PhoneErrorKind =
  | 'wrong-password'
  | 'certificate'
  | 'unreachable'
  | 'connection-lost'
  | 'mic-denied'
  | 'no-microphone'
  | 'invalid-settings'
  | 'call-failed';

export interface PhoneError {
  kind: PhoneErrorKind;
  message: string;
  /** A page the user should open to fix it (the certificate case). */
  link?: string;
}

/** https://host:port/ for a ws(s):// URL: where the user accepts the certificate. */
export function certificatePage(server: string): string {
  const url = new URL(server);
  return `https://${url.host}/`;
}

export function phoneError(kind: PhoneErrorKind, server = '', detail = ''): PhoneError {
  switch (kind) {
    case 'wrong-password':
      return { kind, message: 'Ramal ou senha incorretos: o servidor recusou o registro. Confira os dados e tente de novo.' };
    case 'certificate': {
      const link = certificatePage(server);
      return {
        kind,
        link,
        message:
          `O navegador ainda não aceitou o certificado do servidor. Abra ${link}, aceite o certificado ` +
          '(Avançado → Continuar) e volte a esta página; o registro é refeito sozinho. ' +
          'Se o certificado já foi aceito, o servidor pode estar fora do ar.',
      };
    }
    case 'unreachable':
      return {
        kind,
        message: `Servidor inacessível em ${server}. Verifique o endereço, a porta e se o Asterisk está no ar.`,
      };
    case 'connection-lost':
      return { kind, message: 'Conexão com o servidor perdida. Tentando registrar novamente…' };
    case 'mic-denied':
      return {
        kind,
        message: 'Permissão do microfone negada. Libere o microfone para este site nas configurações do navegador (ícone do cadeado) e tente de novo.',
      };
    case 'no-microphone':
      return { kind, message: 'Nenhum microfone encontrado. Conecte um microfone e tente de novo.' };
    case 'invalid-settings':
      return { kind, message: detail || 'Configuração incompleta.' };
    case 'call-failed':
      return { kind, message: detail || 'A chamada falhou.' };
  }
}

/** Portuguese text for the end of a call, or null for a normal end. */
export function callEndText(cause: FailureCause): string | null {
  switch (cause) {
    case 'bye':
    case 'canceled':
      return null;
    case 'busy':
      return 'Ocupado.';
    case 'rejected':
      return 'Chamada recusada.';
    case 'not-found':
      return 'Número inexistente.';
    case 'unavailable':
      return 'Destino indisponível.';
    case 'no-answer':
      return 'Sem resposta.';
    case 'auth':
      return 'O servidor recusou a chamada (autenticação).';
    case 'connection':
      return 'A conexão caiu durante a chamada.';
    case 'media':
      return 'Falha de áudio (WebRTC) ao estabelecer a chamada.';
    case 'mic-denied':
      return 'Permissão do microfone negada.';
    case 'timeout':
      return 'O servidor não respondeu a tempo.';
    case 'other':
      return 'A chamada falhou.';
  }
}

/** Maps a getUserMedia rejection to our error. */
export function microphoneError(err: unknown): PhoneError {
  const name = err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err)
    ? String((err as { name: unknown }).name)
    : '';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return phoneError('no-microphone');
  return phoneError('mic-denied');
}

/** Validates the settings form; returns an error or null. */
export function validateSettings(server: string, extension: string, password: string): PhoneError | null {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return phoneError('invalid-settings', server, 'Endereço do servidor inválido. Use o formato wss://servidor:8189/ws.');
  }
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') {
    return phoneError('invalid-settings', server, 'O endereço do servidor deve começar com wss:// (por exemplo wss://servidor:8189/ws).');
  }
  if (!/^[0-9A-Za-z_.-]{1,32}$/.test(extension)) {
    return phoneError('invalid-settings', server, 'Informe o ramal (por exemplo 1004).');
  }
  if (password.length === 0) {
    return phoneError('invalid-settings', server, 'Informe a senha do ramal.');
  }
  return null;
}

/** Remembers which servers this browser has reached (so a later failure is not a certificate issue). */
export interface ReachedServers {
  has(server: string): boolean;
  add(server: string): void;
}

export function classifyConnectFailure(server: string, reached: ReachedServers): PhoneError {
  const secure = server.startsWith('wss:');
  if (secure && !reached.has(server)) return phoneError('certificate', server);
  return phoneError('unreachable', server);
}

export function storageReachedServers(storage: Storage | null): ReachedServers {
  const key = 'softphone.reachedServers';
  const hostOf = (server: string): string => {
    try {
      return new URL(server).host;
    } catch {
      return server;
    }
  };
  const read = (): string[] => {
    try {
      const v: unknown = JSON.parse(storage?.getItem(key) ?? '[]');
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    has: (server) => read().includes(hostOf(server)),
    add: (server) => {
      const all = new Set(read());
      all.add(hostOf(server));
      storage?.setItem(key, JSON.stringify([...all]));
    },
  };
}
