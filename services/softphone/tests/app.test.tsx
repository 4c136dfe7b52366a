import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../src/App';
import type { Ringer } from '../src/app/ringer';
import { makePhone } from './helpers';

class FakeRinger implements Ringer {
  ringing: string | null = null;
  start(from: string) {
    this.ringing = from;
  }
  stop() {
    this.ringing = null;
  }
}

function setup(stored?: object) {
  if (stored) {
    // the settings in localStorage, a remembered password in the tab's sessionStorage
    const { password, ...rest } = stored as Record<string, unknown>;
    localStorage.setItem('softphone.settings', JSON.stringify(rest));
    if (typeof password === 'string') sessionStorage.setItem('softphone.password', password);
  }
  const env = makePhone();
  const ringer = new FakeRinger();
  const user = userEvent.setup();
  render(<App phone={env.phone} storage={localStorage} session={sessionStorage} ringer={ringer} />);
  return { ...env, ringer, user };
}

async function connectAs(env: ReturnType<typeof setup>, password = 'segredo') {
  await env.user.clear(screen.getByLabelText('Servidor (WebSocket)'));
  await env.user.type(screen.getByLabelText('Servidor (WebSocket)'), 'wss://pabx.test:8189/ws');
  await env.user.type(screen.getByLabelText('Senha'), password);
  await env.user.click(screen.getByRole('button', { name: 'Conectar' }));
}

/** The app with 1004's settings and password remembered, connected and registered. */
async function registered() {
  const env = setup({ server: 'wss://pabx.test:8189/ws', extension: '1004', password: 'x', rememberPassword: true });
  await env.user.click(screen.getByRole('button', { name: 'Conectar' }));
  act(() => env.factory.last.up());
  return env;
}

/** An incoming call from ``from`` (shown as ``name``), delivered inside React's act. */
function ring(env: ReturnType<typeof setup>, from: string, name?: string) {
  let s!: ReturnType<typeof env.factory.last.incoming>;
  act(() => {
    s = env.factory.last.incoming(from, name);
  });
  return s;
}

describe('App', () => {
  it('every control has an accessible name', () => {
    setup();
    for (const el of [...screen.getAllByRole('button'), ...screen.getAllByRole('textbox'), ...screen.getAllByRole('combobox')]) {
      const name = el.getAttribute('aria-label') ?? el.textContent ?? '';
      const labelled = name.trim() !== '' || (el.id !== '' && document.querySelector(`label[for="${el.id}"]`) !== null);
      expect(labelled, el.outerHTML).toBe(true);
    }
  });

  it('connects with the form, shows the registration and remembers settings but not the password', async () => {
    const env = setup();
    expect(screen.getByTestId('registration').textContent).toContain('Desconectado');
    await connectAs(env);
    expect(env.factory.last.config).toMatchObject({ server: 'wss://pabx.test:8189/ws', extension: '1004', password: 'segredo' });
    expect(screen.getByTestId('registration').textContent).toContain('Conectando');
    act(() => env.factory.last.up());
    expect(screen.getByTestId('registration').textContent).toBe('Registrado como ramal 1004');
    const stored = JSON.parse(localStorage.getItem('softphone.settings') ?? '{}') as Record<string, unknown>;
    expect(stored.server).toBe('wss://pabx.test:8189/ws');
    expect(stored).not.toHaveProperty('password');
    expect(sessionStorage.getItem('softphone.password')).toBeNull();
  });

  it('remembers the password only when asked to, in the tab session, never in localStorage', async () => {
    const env = setup();
    await env.user.click(screen.getByLabelText('Lembrar a senha nesta aba (até fechá-la)'));
    await connectAs(env);
    expect(localStorage.getItem('softphone.settings')).not.toContain('segredo');
    expect(sessionStorage.getItem('softphone.password')).toBe('segredo');
  });

  it('shows the wrong-password message', async () => {
    const env = setup();
    await connectAs(env, 'errada');
    act(() => {
      env.factory.last.connect();
      env.factory.last.registrationFailed('auth');
    });
    expect(screen.getByRole('alert').textContent).toContain('Ramal ou senha incorretos');
    expect(screen.getByTestId('registration').textContent).toBe('Falha no registro');
    expect(screen.getByRole('button', { name: 'Conectar' })).toBeTruthy();
  });

  it('shows the certificate message with the link to accept it', async () => {
    const env = setup();
    await connectAs(env);
    act(() => env.factory.last.drop());
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('certificado');
    const link = within(alert).getByRole('link');
    expect(link.getAttribute('href')).toBe('https://pabx.test:8189/');
    await env.user.click(within(alert).getByRole('button', { name: 'Fechar mensagem de erro' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('dials from the keyboard alone and calls with the button', async () => {
    const env = await registered();
    (document.activeElement as HTMLElement | null)?.blur();
    await env.user.keyboard('*43');
    const number = screen.getByLabelText('Número a discar') as HTMLInputElement;
    expect(number.value).toBe('*43');
    await env.user.keyboard('{Backspace}');
    expect(number.value).toBe('*4');
    await env.user.click(screen.getByRole('button', { name: 'Tecla 3' }));
    await env.user.click(screen.getByRole('button', { name: 'Ligar' }));
    expect(env.factory.last.calls[0]?.target).toBe('*43');
    expect(screen.getByTestId('call').getAttribute('data-status')).toBe('dialing');
    const session = env.factory.last.calls[0]!.session;
    act(() => session.accept());
    expect(screen.getByTestId('timer').textContent).toBe('00:00');
    // In a call, digits go out as DTMF.
    await env.user.keyboard('5');
    expect(session.actions).toEqual(['dtmf:5']);
    await env.user.click(screen.getByRole('button', { name: 'Silenciar' }));
    expect(screen.getByRole('button', { name: 'Reativar microfone' }).getAttribute('aria-pressed')).toBe('true');
    await env.user.click(screen.getByRole('button', { name: 'Colocar em espera' }));
    expect(screen.getByRole('heading', { name: 'Em espera' })).toBeTruthy();
    await env.user.click(screen.getByRole('button', { name: 'Retomar' }));
    await env.user.click(screen.getByRole('button', { name: 'Transferir' }));
    await env.user.type(screen.getByLabelText('Transferir para (ramal ou número)'), '1001');
    await env.user.click(screen.getByRole('button', { name: 'Transferir agora' }));
    expect(session.actions).toEqual(['dtmf:5', 'mute', 'hold', 'unhold', 'transfer:1001']);
    await env.user.keyboard('{Escape}');
    expect(screen.queryByTestId('call')).toBeNull();
    const history = screen.getByTestId('history');
    expect(history.textContent).toContain('Para *43');
    expect(JSON.parse(localStorage.getItem('softphone.history') ?? '[]')).toHaveLength(1);
  });

  it('rings on an incoming call and answers with Enter', async () => {
    const env = await registered();
    const s = ring(env, '1005', 'Maria');
    expect(env.ringer.ringing).toBe('1005');
    expect(screen.getByRole('heading', { name: 'Chamada recebida' })).toBeTruthy();
    expect(screen.getByText('Maria (1005)')).toBeTruthy();
    // "Atender" has the focus: Enter activates it.
    expect(document.activeElement?.textContent).toBe('Atender');
    await env.user.keyboard('{Enter}');
    expect(s.actions).toEqual(['answer']);
    act(() => s.accept());
    expect(env.ringer.ringing).toBeNull();
  });

  it('rejects an incoming call with the button', async () => {
    const env = await registered();
    const s = ring(env, '1005');
    await env.user.click(screen.getByRole('button', { name: 'Recusar' }));
    expect(s.actions).toEqual(['reject:decline']);
    expect(env.ringer.ringing).toBeNull();
    expect(screen.getByTestId('history').textContent).toContain('recusada');
  });

  it('shows the microphone-denied message', async () => {
    const env = await registered();
    env.media.deny = 'NotAllowedError';
    (document.activeElement as HTMLElement | null)?.blur();
    await env.user.keyboard('1005');
    await env.user.click(screen.getByRole('button', { name: 'Ligar' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Permissão do microfone negada');
  });
});
