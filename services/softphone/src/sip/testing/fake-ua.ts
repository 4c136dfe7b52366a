/**
 * Hand-written fakes of our own SIP interface (not of JsSIP): tests drive the events a real
 * user agent would report and read back what the Phone asked of it.
 */
import type { ReachedServers } from '../errors';
import type {
  Clock,
  FailureCause,
  MediaSource,
  SessionHandlers,
  SipConfig,
  SipSession,
  SipUserAgent,
  UaFactory,
  UaHandlers,
} from '../types';

export class FakeSession implements SipSession {
  handlers: SessionHandlers | null = null;
  readonly actions: string[] = [];
  answeredWith: MediaStream | null = null;

  constructor(
    readonly direction: 'incoming' | 'outgoing',
    readonly remoteUser: string,
    readonly remoteName = '',
  ) {}

  setHandlers(handlers: SessionHandlers): void {
    this.handlers = handlers;
  }
  answer(stream: MediaStream): void {
    this.answeredWith = stream;
    this.actions.push('answer');
  }
  reject(reason: 'decline' | 'busy'): void {
    this.actions.push(`reject:${reason}`);
  }
  hangup(): void {
    this.actions.push('hangup');
  }
  setMuted(muted: boolean): void {
    this.actions.push(muted ? 'mute' : 'unmute');
  }
  hold(): void {
    this.actions.push('hold');
  }
  unhold(): void {
    this.actions.push('unhold');
  }
  sendDtmf(digit: string): void {
    this.actions.push(`dtmf:${digit}`);
  }
  transfer(target: string): void {
    this.actions.push(`transfer:${target}`);
  }
  restartIce(): void {
    this.actions.push('ice-restart');
  }
  async replaceAudioTrack(): Promise<void> {
    this.actions.push('replace-track');
  }

  // ---- driven by tests ----
  progress(): void {
    this.handlers?.onProgress();
  }
  accept(): void {
    this.handlers?.onAccepted();
  }
  end(cause: FailureCause): void {
    this.handlers?.onEnded(cause);
  }
  ice(state: RTCIceConnectionState): void {
    this.handlers?.onIceStateChange(state);
  }
}

export class FakeUserAgent implements SipUserAgent {
  started = false;
  stopped = false;
  registers = 0;
  connected = false;
  readonly calls: { target: string; stream: MediaStream; session: FakeSession }[] = [];

  constructor(
    readonly config: SipConfig,
    readonly handlers: UaHandlers,
  ) {}

  start(): void {
    this.started = true;
    this.handlers.onConnecting();
  }
  register(): void {
    this.registers++;
  }
  stop(): void {
    this.stopped = true;
    this.connected = false;
  }
  isConnected(): boolean {
    return this.connected;
  }
  call(target: string, stream: MediaStream, handlers: SessionHandlers): SipSession {
    const session = new FakeSession('outgoing', target);
    session.setHandlers(handlers);
    this.calls.push({ target, stream, session });
    return session;
  }

  // ---- driven by tests ----
  connect(): void {
    this.connected = true;
    this.handlers.onConnected();
  }
  drop(): void {
    this.connected = false;
    this.handlers.onDisconnected();
  }
  registered(): void {
    this.handlers.onRegistered();
  }
  registrationFailed(cause: FailureCause): void {
    this.handlers.onRegistrationFailed(cause);
  }
  incoming(from: string, name = ''): FakeSession {
    const s = new FakeSession('incoming', from, name);
    this.handlers.onIncoming(s);
    return s;
  }
  /** connect + REGISTER 200 in one step. */
  up(): void {
    this.connect();
    this.registered();
  }
}

/** A factory that keeps every user agent it built; `last` is the current one. */
export class FakeUaFactory {
  readonly all: FakeUserAgent[] = [];
  readonly create: UaFactory = (config, handlers) => {
    const ua = new FakeUserAgent(config, handlers);
    this.all.push(ua);
    return ua;
  };
  get last(): FakeUserAgent {
    const ua = this.all[this.all.length - 1];
    if (!ua) throw new Error('no user agent built yet');
    return ua;
  }
}

/** A fake MediaStreamTrack/MediaStream pair good enough for the Phone (jsdom has none). */
export function fakeStream(label = 'mic'): MediaStream {
  const track = {
    kind: 'audio',
    label,
    enabled: true,
    readyState: 'live' as MediaStreamTrackState,
    stop() {
      this.readyState = 'ended';
    },
  };
  return {
    id: label,
    getTracks: () => [track],
    getAudioTracks: () => [track],
  } as unknown as MediaStream;
}

export class FakeMedia implements MediaSource {
  deny: string | null = null; // DOMException name to throw, e.g. NotAllowedError
  readonly requested: (string | null)[] = [];
  readonly given: MediaStream[] = [];
  async getMicrophone(deviceId: string | null): Promise<MediaStream> {
    this.requested.push(deviceId);
    if (this.deny) throw Object.assign(new Error(this.deny), { name: this.deny });
    const s = fakeStream(`mic-${this.given.length}`);
    this.given.push(s);
    return s;
  }
}

/** Virtual time: `advance(ms)` fires due timers in order. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Delay of the earliest pending timer. */
  get nextDelay(): number | null {
    let min: number | null = null;
    for (const { at } of this.timers.values()) min = min === null ? at - this.t : Math.min(min, at - this.t);
    return min;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

export class MemoryReached implements ReachedServers {
  readonly hosts = new Set<string>();
  has(server: string): boolean {
    return this.hosts.has(new URL(server).host);
  }
  add(server: string): void {
    this.hosts.add(new URL(server).host);
  }
}
