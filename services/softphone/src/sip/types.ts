/**
 * The softphone's own SIP interface. The React code and the Phone controller only know these
 * types; `jssip-ua.ts` is the one file that imports the SIP library, so swapping JsSIP for
 * SIP.js means writing one new adapter that implements `SipUserAgent` and `SipSession`.
 */

export interface SipConfig {
  /** WebSocket URL of Asterisk, e.g. wss://pabx.example:8189/ws */
  server: string;
  extension: string;
  password: string;
  displayName: string;
}

/** Why a request or a call failed, independent of the SIP library. */
export type FailureCause =
  | 'auth' // 401/407 after our credentials: wrong extension or password
  | 'busy'
  | 'rejected'
  | 'not-found'
  | 'unavailable'
  | 'no-answer'
  | 'canceled'
  | 'bye' // normal end of an established call
  | 'connection' // transport failure
  | 'media' // WebRTC / SDP failure
  | 'mic-denied'
  | 'timeout'
  | 'other';

export interface UaHandlers {
  onConnecting(): void;
  onConnected(): void;
  /** The WebSocket closed (or never opened). */
  onDisconnected(): void;
  onRegistered(): void;
  onUnregistered(): void;
  onRegistrationFailed(cause: FailureCause): void;
  onIncoming(session: SipSession): void;
}

export interface SessionHandlers {
  /** 180/183 from the far end. */
  onProgress(): void;
  /** The call is established (200 OK sent or received). */
  onAccepted(): void;
  /** The call is over: `cause` says why (`bye` is a normal hang-up). */
  onEnded(cause: FailureCause): void;
  onRemoteStream(stream: MediaStream): void;
  /** RTCPeerConnection.iceConnectionState changes. */
  onIceStateChange(state: RTCIceConnectionState): void;
}

export interface SipSession {
  readonly direction: 'incoming' | 'outgoing';
  /** User part of the remote URI, e.g. "1005". */
  readonly remoteUser: string;
  readonly remoteName: string;
  setHandlers(handlers: SessionHandlers): void;
  answer(stream: MediaStream): void;
  /** Refuses an incoming call: `decline` (603, the user said no) or `busy` (486). */
  reject(reason: 'decline' | 'busy'): void;
  hangup(): void;
  setMuted(muted: boolean): void;
  hold(): void;
  unhold(): void;
  /** One DTMF digit, sent in the media path (RFC 4733). */
  sendDtmf(digit: string): void;
  /** Blind transfer (REFER). */
  transfer(target: string): void;
  /** Re-INVITE with fresh ICE credentials (after a network change). */
  restartIce(): void;
  /** Swap the microphone track mid-call. */
  replaceAudioTrack(track: MediaStreamTrack): Promise<void>;
}

export interface SipUserAgent {
  /** Opens the WebSocket; handlers report progress. */
  start(): void;
  register(): void;
  /** Unregisters and closes the WebSocket; no handler fires afterwards. */
  stop(): void;
  isConnected(): boolean;
  call(target: string, stream: MediaStream, handlers: SessionHandlers): SipSession;
}

export type UaFactory = (config: SipConfig, handlers: UaHandlers) => SipUserAgent;

/** Where the microphone comes from: real getUserMedia in the app, a fake in tests. */
export interface MediaSource {
  getMicrophone(deviceId: string | null): Promise<MediaStream>;
}

/** Timers, injectable so that tests advance time without waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
