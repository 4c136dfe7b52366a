#!/usr/bin/env bash
# Verifica se o Asterisk em execução está pronto para receber chamadas de um SBC.
#   scripts/validate-sbc.sh [IP_DO_SBC]
# Confere, no Asterisk que está rodando (somente leitura, nenhum pacote é enviado ao SBC):
# endpoint do trunk, identificação por IP, transportes, codecs, faixa RTP, NAT e dialplan.
# Imprime OK ou FALHA por verificação e sai com código diferente de zero se algo falhar.
# Variáveis: SBC_ENDPOINT (padrão sbc-trunk), SBC_CONTEXT (padrão from-sbc).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SBC_IP="${1:-}"
ENDPOINT="${SBC_ENDPOINT:-sbc-trunk}"
CONTEXT="${SBC_CONTEXT:-from-sbc}"
falhas=0
avisos=0

if [ -t 1 ]; then G=$'\033[1;32m' R=$'\033[1;31m' Y=$'\033[1;33m' N=$'\033[0m'; else G="" R="" Y="" N=""; fi
ok()    { printf '  %s[OK]%s    %s\n' "$G" "$N" "$*"; }
falha() { printf '  %s[FALHA]%s %s\n' "$R" "$N" "$*"; falhas=$((falhas + 1)); }
aviso() { printf '  %s[AVISO]%s %s\n' "$Y" "$N" "$*"; avisos=$((avisos + 1)); }
cli()   { "$HERE/asterisk.sh" cli "$*" 2>/dev/null; }
# valor de uma opção em `pjsip show endpoint` (linhas "nome   :  valor")
opt()   { awk -v k="$2" '$1 == k && $2 == ":" {print $3; exit}' <<<"$1"; }

echo "Validação da integração com SBC${SBC_IP:+ ($SBC_IP)}"

# 1. Asterisk respondendo
if ! endpoints=$(cli "pjsip show endpoints") || [[ "$endpoints" != *"Endpoint:"* ]]; then
  falha "Asterisk não responde (inicie com: make up)"
  echo "Resultado: 1 falha(s)"; exit 1
fi
ok "Asterisk responde ao CLI"

# 2. Transportes
transports=$(cli "pjsip show transports")
if grep -Eq "transport-udp +udp .*:5160" <<<"$transports"; then ok "transporte UDP na porta 5160"
else falha "transporte UDP 5160 ausente (pjsip.conf, [transport-udp])"; fi

# 3. Endpoint do trunk
ep=$(cli "pjsip show endpoint $ENDPOINT")
if [[ "$ep" == *"Endpoint:  $ENDPOINT"* ]]; then
  ok "endpoint do trunk '$ENDPOINT' existe"
else
  falha "endpoint '$ENDPOINT' não existe (copie pjsip-sbc.conf.example para pjsip-sbc.conf)"
  ep=""
fi

if [ -n "$ep" ]; then
  # 4. Contexto e dialplan
  ctx=$(opt "$ep" context)
  # The CLI's output is captured, not piped: `cli | grep -q` under pipefail fails when grep
  # exits before cli ends. Up to 3 tries: right after a `core reload` the dialplan may
  # still be loading.
  in_dialplan=false
  for try in 1 2 3; do
    [ "$ctx" = "$CONTEXT" ] || break
    [[ "$(cli "dialplan show $CONTEXT")" == *"Context '$CONTEXT'"* ]] && { in_dialplan=true; break; }
    [ "$try" = 3 ] || sleep 1
  done
  if $in_dialplan; then
    ok "contexto '$CONTEXT' do trunk existe no dialplan"
  else
    falha "contexto '$CONTEXT' ausente ou endpoint em outro contexto ('$ctx') (extensions-sbc.conf)"
  fi

  # 5. Identificação por IP
  ids=$(cli "pjsip show identifies")
  if grep -q "Identify:  .*/$ENDPOINT" <<<"$ids"; then
    if [ -z "$SBC_IP" ]; then
      ok "identify por IP configurado para '$ENDPOINT' (informe o IP do SBC para conferir)"
    elif grep -q "Match: *$SBC_IP/32" <<<"$ids" || grep -q "Match: *$SBC_IP\b" <<<"$ids"; then
      ok "o IP $SBC_IP é identificado como '$ENDPOINT'"
    else
      falha "o IP $SBC_IP não está no identify de '$ENDPOINT' (match= em pjsip-sbc.conf)"
    fi
  else
    falha "nenhum identify por IP aponta para '$ENDPOINT'"
  fi

  # 6. Codecs
  allow=$(opt "$ep" allow)
  if [[ "$allow" == *ulaw* || "$allow" == *alaw* ]]; then ok "codecs do trunk: $allow"
  else falha "o trunk não aceita G.711 (allow=alaw,ulaw); codecs: ${allow:-nenhum}"; fi

  # 7. NAT e mídia
  for k in direct_media:false rtp_symmetric:true force_rport:true rewrite_contact:true; do
    name=${k%%:*}; want=${k#*:}; got=$(opt "$ep" "$name")
    if [ "$got" = "$want" ]; then ok "NAT: $name=$got"
    else falha "NAT: $name deveria ser $want (está '${got:-?}')"; fi
  done
  transport=$(opt "$ep" transport)
  [ "$transport" = transport-udp ] && ok "o trunk usa transport-udp" \
    || falha "o trunk deveria usar transport-udp (está '${transport:-?}')"
  auth=$(opt "$ep" auth)
  [ -z "$auth" ] && ok "o trunk não exige senha (identificado só pelo IP)" \
    || aviso "o trunk tem auth='$auth': o SBC precisará autenticar"
fi

# 8. Faixa RTP
rtp=$(cli "rtp show settings")
start=$(awk -F: '/Port start/ {gsub(/ /,"",$2); print $2}' <<<"$rtp")
end=$(awk -F: '/Port end/ {gsub(/ /,"",$2); print $2}' <<<"$rtp")
if [[ "$start" =~ ^[0-9]+$ && "$end" =~ ^[0-9]+$ && "$end" -gt "$start" ]]; then
  sessoes=$(( (end - start + 1) / 2 ))
  ok "faixa RTP $start-$end (cerca de $sessoes sessões RTP simultâneas)"
  [ "$sessoes" -lt 100 ] && aviso "faixa RTP pequena para um trunk: use rtp-sbc.conf.example"
else
  falha "faixa RTP não encontrada em 'rtp show settings'"
fi

# 9. Endereço externo (NAT do servidor)
udp=$(cli "pjsip show transport transport-udp")
ext=$(awk '$1 == "external_media_address" {print $3}' <<<"$udp")
if [ -n "$ext" ]; then ok "endereço de mídia externo: $ext"
else aviso "sem external_media_address: certo se o Asterisk tem IP público ou o SBC está na mesma rede (PABX_EXTERNAL_ADDRESS em compose/.env)"; fi

echo "Resultado: $falhas falha(s), $avisos aviso(s)"
[ "$falhas" -eq 0 ]
