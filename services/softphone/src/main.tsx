import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { browserRinger } from './app/ringer';
import { browserMedia } from './sip/browser-media';
import { storageReachedServers } from './sip/errors';
import { jssipUaFactory } from './sip/jssip-ua';
import { Phone } from './sip/phone';
import './styles.css';

const storage = (() => {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
})();

const session = (() => {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
})();

const phone = new Phone({ uaFactory: jssipUaFactory, media: browserMedia, reached: storageReachedServers(storage) });
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App phone={phone} storage={storage} session={session} ringer={browserRinger()} />
    </StrictMode>,
  );
}
