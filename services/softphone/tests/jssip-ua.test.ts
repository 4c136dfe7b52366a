import { describe, expect, it } from 'vitest';
import { mapCause } from '../src/sip/jssip-ua';

describe('JsSIP cause mapping', () => {
  const CAUSES: Record<string, string> = {
    Terminated: 'bye', 'Authentication Error': 'auth', Busy: 'busy', Rejected: 'rejected',
    'Not Found': 'not-found', Unavailable: 'unavailable', 'No Answer': 'no-answer',
    Canceled: 'canceled', 'Connection Error': 'connection', 'Request Timeout': 'timeout',
    'User Denied Media Access': 'mic-denied', 'WebRTC Error': 'media',
  };

  it.each(Object.entries(CAUSES))('maps the library cause %s to ours (%s)', (cause, ours) => {
    expect(mapCause(cause)).toBe(ours);
  });

  it('anything unknown or missing is "other"', () => {
    expect(mapCause(undefined)).toBe('other');
    expect(mapCause('')).toBe('other');
    expect(mapCause('Something New In JsSIP 4')).toBe('other');
  });
});
