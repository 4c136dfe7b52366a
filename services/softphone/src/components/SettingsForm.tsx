import { useId, useState, type FormEvent } from 'react';
import type { Settings } from '../app/settings';

interface Props {
  initial: Settings;
  connected: boolean;
  onConnect(s: Settings): void;
  onDisconnect(): void;
}

export function SettingsForm({ initial, connected, onConnect, onDisconnect }: Props) {
  const [s, setS] = useState<Settings>(initial);
  const id = useId();
  const field = (k: 'server' | 'extension' | 'password' | 'displayName') =>
    (e: { target: { value: string } }) => setS((prev) => ({ ...prev, [k]: e.target.value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (connected) onDisconnect();
    else onConnect(s);
  };
  return (
    <form className="card settings" onSubmit={submit} aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`}>Configurações</h2>
      <label htmlFor={`${id}-server`}>Servidor (WebSocket)</label>
      <input id={`${id}-server`} value={s.server} onChange={field('server')} disabled={connected}
        placeholder="wss://servidor:8189/ws" autoComplete="url" spellCheck={false} />
      <div className="row">
        <div>
          <label htmlFor={`${id}-ext`}>Ramal</label>
          <input id={`${id}-ext`} value={s.extension} onChange={field('extension')} disabled={connected}
            inputMode="numeric" autoComplete="username" />
        </div>
        <div>
          <label htmlFor={`${id}-pw`}>Senha</label>
          <input id={`${id}-pw`} type="password" value={s.password} onChange={field('password')} disabled={connected}
            autoComplete="current-password" />
        </div>
      </div>
      <label htmlFor={`${id}-name`}>Nome de exibição</label>
      <input id={`${id}-name`} value={s.displayName} onChange={field('displayName')} disabled={connected}
        autoComplete="name" />
      <label className="check">
        <input type="checkbox" checked={s.rememberPassword} disabled={connected}
          onChange={(e) => setS((prev) => ({ ...prev, rememberPassword: e.target.checked }))} />
        Lembrar a senha nesta aba (até fechá-la)
      </label>
      <button type="submit" className={connected ? 'secondary' : 'primary'}>
        {connected ? 'Desconectar' : 'Conectar'}
      </button>
    </form>
  );
}
