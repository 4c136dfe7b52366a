/** The real microphone: getUserMedia with the chosen device (null: the browser's default). */
import type { MediaSource } from './types';

export const browserMedia: MediaSource = {
  async getMicrophone(deviceId) {
    if (!navigator.mediaDevices?.getUserMedia) {
      // Plain http:// on a non-localhost address: no media API at all.
      throw Object.assign(new Error('getUserMedia indisponível (a página precisa de HTTPS)'), { name: 'NotAllowedError' });
    }
    return navigator.mediaDevices.getUserMedia({
      audio: {
        ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
      },
      video: false,
    });
  },
};
