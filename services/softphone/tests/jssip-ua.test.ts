import { describe, expect, it } from 'vitest';
import { mapCause } from '../src/sip/jssip-ua';

describe('JsSIP cause mapping', () => {
  it('maps the library causes to ours', () => {
    expect(mapCause('Terminated')).toBe('bye');
    expect(mapCause('Authentication Error')).toBe('auth');
    expect(mapCause('Busy')).toBe('busy');
    expect(mapCause('Rejected')).toBe('rejected');
    expect(mapCause('Not Found')).toBe('not-found');
    expect(mapCause('Unavailable')).toBe('unavailable');
    expect(mapCause('No Answer')).toBe('no-answer');
    expect(mapCause('Canceled')).toBe('canceled');
    expect(mapCause('Connection Error')).toBe('connection');
    expect(mapCause('Request Timeout')).toBe('timeout');
    expect(mapCause('User Denied Media Access')).toBe('mic-denied');
    expect(mapCause('WebRTC Error')).toBe('media');
  });

  it('anything unknown or missing is "other"', () => {
    expect(mapCause(undefined)).toBe('other');
    expect(mapCause('')).toBe('other');
    expect(mapCause('Something New In JsSIP 4')).toBe('other');
  });
});
