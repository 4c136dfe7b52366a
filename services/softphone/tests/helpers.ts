import { Phone } from '../src/sip/phone';
import { FakeClock, FakeMedia, FakeUaFactory, MemoryReached } from '../src/sip/testing/fake-ua';
import type { SipConfig } from '../src/sip/types';

export const CONFIG: SipConfig = {
  server: 'wss://pabx.test:8189/ws',
  extension: '1004',
  password: 'segredo',
  displayName: 'Teste',
};

export function makePhone() {
  const factory = new FakeUaFactory();
  const media = new FakeMedia();
  const clock = new FakeClock();
  const reached = new MemoryReached();
  const phone = new Phone({ uaFactory: factory.create, media, clock, reached });
  return { phone, factory, media, clock, reached };
}

/** A phone registered as 1004. */
export function registeredPhone() {
  const env = makePhone();
  env.phone.connect(CONFIG);
  env.factory.last.up();
  return env;
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
