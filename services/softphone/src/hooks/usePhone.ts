import { useSyncExternalStore } from 'react';
import type { Phone, PhoneSnapshot } from '../sip/phone';

export function usePhone(phone: Phone): PhoneSnapshot {
  return useSyncExternalStore(phone.subscribe, phone.getSnapshot);
}
