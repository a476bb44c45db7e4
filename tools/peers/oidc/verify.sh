#!/usr/bin/env bash
# Self-check of a running OIDC peer (start.sh PORT) with curl, jq, openssl and
# python3: discovery and JWKS, alice's login with PKCE (401 on a wrong
# password), the token response, id_token claims and signature, userinfo,
# client_secret_post, refresh, the refusals (code reuse, missing
# code_challenge, wrong code_verifier, bad client secret), every tamper mode,
# /_test/claims and RP-initiated logout. One line per check; exits non-zero
# if any fails. Also passes against OIDC_AUTO_LOGIN=alice (the dave and carol
# logins are then skipped). Reads the same OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
# OIDC_REDIRECT_URIS and OIDC_POST_LOGOUT_REDIRECT_URIS as start.sh.
#
#   tools/peers/oidc/verify.sh PORT
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:-${OIDC_PORT:?usage: verify.sh PORT}}
I=http://127.0.0.1:$port
CID=${OIDC_CLIENT_ID:-test-client}
SECRET=${OIDC_CLIENT_SECRET:-test-client-secret}
REDIRECT=$(cut -d, -f1 <<<"${OIDC_REDIRECT_URIS:-http://127.0.0.1:8080/callback}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0
check() { # NAME 'CONDITION' (bash, evaluated here): prints PASS or FAIL NAME
  if (set +e; eval "$2") >"$tmp/check.out" 2>&1; then
    echo "PASS $1"; passed=$((passed + 1))
  else
    echo "FAIL $1"; sed 's/^/     /' "$tmp/check.out" | head -n 20; failed=$((failed + 1))
  fi
}
is() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }
jqt() { jq -e "$2" "$1" >/dev/null || { echo "jq '$2' is false for:"; cat "$1"; echo; return 1; }; }
urlenc() { jq -rn --arg v "$1" '$v|@uri'; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
param() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p" <<<"$2"; }
jwt_part() { # TOKEN N: part N (0 header, 1 claims) of a JWT, as JSON
  python3 -c 'import base64, sys; p = sys.argv[1].split(".")[int(sys.argv[2])]; sys.stdout.write(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$1" "$2"
}
jwks_sig() { # TOKEN: "valid" if signed by a key of the peer's JWKS (jose from node_modules)
  (cd "$here" && node --input-type=module -e '
    import * as jose from "jose";
    const jwks = jose.createLocalJWKSet(JSON.parse(process.argv[1]));
    try { await jose.compactVerify(process.argv[2], jwks); console.log("valid"); } catch (e) { console.log(`invalid ${e.code}`); }
  ' "$(cat "$tmp/jwks.json")" "$1")
}
hs256_sig() { # TOKEN: "valid" if HMAC-SHA256'd with the client secret
  python3 -c '
import base64, hashlib, hmac, sys
h, p, s = sys.argv[1].split(".")
mac = hmac.new(sys.argv[2].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
print("valid" if base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == s else "invalid")' "$1" "$SECRET"
}

# --- discovery and JWKS --------------------------------------------------------
curl -fsS "$I/.well-known/openid-configuration" >"$tmp/disc.json"
check "discovery: issuer, endpoints, S256 only, basic+post client auth, scopes" 'jqt "$tmp/disc.json" "
  .issuer == \"$I\" and .token_endpoint == \"$I/token\" and .userinfo_endpoint == \"$I/me\"
  and .end_session_endpoint == \"$I/session/end\" and .code_challenge_methods_supported == [\"S256\"]
  and (.token_endpoint_auth_methods_supported | index(\"client_secret_basic\") and index(\"client_secret_post\"))
  and (.scopes_supported | contains([\"openid\",\"email\",\"profile\",\"groups\",\"offline_access\"]))"'
curl -fsS "$(jq -r .jwks_uri "$tmp/disc.json")" >"$tmp/jwks.json"
check "jwks: RSA keys with kid, public parts only" 'jqt "$tmp/jwks.json" "
  (.keys | length) >= 1 and all(.keys[]; .kty == \"RSA\" and (.kid | length) > 0 and .n and .e
  and ([has(\"d\", \"p\", \"q\", \"dp\", \"dq\", \"qi\")] | any | not))"'
kids=$(jq -c '[.keys[].kid]' "$tmp/jwks.json")
in_jwks() { jq -e --arg k "$1" 'index($k)' <<<"$kids" >/dev/null || { echo "kid '$1' not in $kids"; return 1; }; }
not_in_jwks() { ! jq -e --arg k "$1" 'index($k)' <<<"$kids" >/dev/null || { echo "kid '$1' is in $kids"; return 1; }; }

# --- helpers for the flow ---------------------------------------------------------
get() { # JAR URL: prints "STATUS REDIRECT_URL", body to $tmp/body
  curl -sS -c "$1" -b "$1" -o "$tmp/body" -w '%{http_code} %{redirect_url}' "$2"
}
post_login() { # JAR INTERACTION_URL USER PASS
  curl -sS -c "$1" -b "$1" -o "$tmp/body" -w '%{http_code} %{redirect_url}' \
    --data-urlencode "username=$3" --data-urlencode "password=$4" "$2/login"
}
new_pkce() {
  VERIFIER=$(openssl rand 48 | b64url)
  CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
}
auth_url() { # SCOPE STATE NONCE [EXTRA]; uses CHALLENGE
  echo "$I/auth?client_id=$(urlenc "$CID")&response_type=code&scope=$(urlenc "$1")&redirect_uri=$(urlenc "$REDIRECT")&state=$2&nonce=$3&code_challenge=$CHALLENGE&code_challenge_method=S256${4:-}"
}
# Authorizes with JAR, logging USER in when a form is shown and following the
# issuer's 303s until the redirect_uri; sets CODE and VERIFIER.
get_code() { # JAR USER PASS SCOPE NONCE [EXTRA]
  new_pkce
  local r loc
  r=$(get "$1" "$(auth_url "$4" st "$5" "${6:-}")"); loc=${r#* }
  for _ in 1 2 3 4 5 6 7 8; do
    case $loc in
      "$REDIRECT"*) break ;;
      "$I"/interaction/*)
        r=$(get "$1" "$loc")
        if [ "${r%% *}" = 200 ]; then r=$(post_login "$1" "$loc" "$2" "$3"); fi
        loc=${r#* } ;;
      "$I"/*) r=$(get "$1" "$loc"); loc=${r#* } ;;
      *) break ;;
    esac
  done
  CODE=$(param code "$loc")
}
token() { # CODE VERIFIER [basic|post|bad]: body to $tmp/token.json, prints the status
  local auth=(-u "$CID:$SECRET")
  case ${3:-basic} in
    post) auth=(--data-urlencode "client_id=$CID" --data-urlencode "client_secret=$SECRET") ;;
    bad) auth=(-u "$CID:wrong-secret") ;;
  esac
  curl -sS -o "$tmp/token.json" -w '%{http_code}' "${auth[@]}" -d grant_type=authorization_code \
    --data-urlencode "code=$1" --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$2" "$I/token"
}
id_claims() { jwt_part "$(jq -r .id_token "$tmp/token.json")" 1; }

# --- alice, step by step ------------------------------------------------------------
A=$tmp/alice.jar
new_pkce
r=$(get "$A" "$(auth_url 'openid email profile groups' s1 n1)")
interaction=${r#* }
check "authorize -> 303 /interaction/<uid>" '[ "${r%% *}" = 303 ] && [[ $interaction == "$I"/interaction/?* ]]'
r=$(post_login "$A" "$interaction" alice wrong-pass)
check "wrong password -> 401 and the form again" '[ "${r%% *}" = 401 ] && grep -q "name=\"password\"" "$tmp/body"'
r=$(get "$A" "$interaction")
auto=no
if [ "${r%% *}" = 200 ]; then
  check "login form: username, password, Sign in button" 'grep -q "name=\"username\"" "$tmp/body" &&
    grep -q "id=\"password\"" "$tmp/body" && grep -q "<button type=\"submit\">Sign in</button>" "$tmp/body"'
  r=$(post_login "$A" "$interaction" alice alice-pass)
  check "right password -> 303 /auth/<uid>" 'is "$r" "303 $I/auth/${interaction##*/}"'
else
  auto=yes
  check "OIDC_AUTO_LOGIN: GET /interaction/<uid> -> 303 /auth/<uid>" 'is "$r" "303 $I/auth/${interaction##*/}"'
fi
r=$(get "$A" "${r#* }")
check "resume -> 303 redirect_uri?code=...&state=s1&iss=..." '[ "${r%% *}" = 303 ] &&
  [[ ${r#* } == "$REDIRECT?code="*"&state=s1&iss=$(urlenc "$I")" ]]'
CODE=$(param code "${r#* }")

status=$(token "$CODE" "$VERIFIER")
cp "$tmp/token.json" "$tmp/alice-token.json"
check "token (client_secret_basic) -> 200 access_token, id_token, Bearer" 'is "$status" 200 &&
  jqt "$tmp/token.json" ".access_token and .id_token and .token_type == \"Bearer\" and .expires_in > 0"'
ID=$(jq -r .id_token "$tmp/token.json")
AT=$(jq -r .access_token "$tmp/token.json")
jwt_part "$ID" 0 >"$tmp/h.json"; jwt_part "$ID" 1 >"$tmp/c.json"
check "id_token header: RS256, kid in JWKS" 'jqt "$tmp/h.json" ".alg == \"RS256\"" && in_jwks "$(jq -r .kid "$tmp/h.json")"'
check "id_token signature valid against jwks_uri" 'is "$(jwks_sig "$ID")" valid'
check "id_token iss, aud, sub, nonce, exp, auth_time" 'jqt "$tmp/c.json" "
  .iss == \"$I\" and .aud == \"$CID\" and .sub == \"alice\" and .nonce == \"n1\" and .exp > now and .auth_time > 0"'
check "id_token email, email_verified, name, groups, amr" 'jqt "$tmp/c.json" "
  .email == \"alice@example.org\" and .email_verified == true and .name == \"Alice Example\"
  and .groups == [\"developers\"] and .amr == [\"pwd\"]"'
curl -sS -H "Authorization: Bearer $AT" "$I/me" >"$tmp/me.json"
check "userinfo: sub, email, email_verified, name, groups" 'jqt "$tmp/me.json" "
  .sub == \"alice\" and .email == \"alice@example.org\" and .email_verified == true
  and .name == \"Alice Example\" and .groups == [\"developers\"]"'

# --- refusals ---------------------------------------------------------------------
status=$(token "$CODE" "$VERIFIER")
check "code reuse -> 400 invalid_grant" 'is "$status" 400 && jqt "$tmp/token.json" ".error == \"invalid_grant\""'

get_code "$A" alice alice-pass 'openid email' n2
status=$(token "$CODE" "$VERIFIER" post)
check "token with client_secret_post -> 200" 'is "$status" 200 && jqt "$tmp/token.json" ".id_token"'

get_code "$A" alice alice-pass openid n3
status=$(token "$CODE" "$VERIFIER" bad)
check "bad client secret -> 401 invalid_client" 'is "$status" 401 && jqt "$tmp/token.json" ".error == \"invalid_client\""'

get_code "$A" alice alice-pass openid n4
status=$(token "$CODE" "$(openssl rand 48 | b64url)")
check "wrong code_verifier -> 400 invalid_grant" 'is "$status" 400 && jqt "$tmp/token.json" ".error == \"invalid_grant\""'

r=$(get "$A" "$I/auth?client_id=$(urlenc "$CID")&response_type=code&scope=openid&redirect_uri=$(urlenc "$REDIRECT")&state=s5&nonce=n5")
check "authorize without code_challenge -> redirect_uri?error=invalid_request" '[[ ${r#* } == "$REDIRECT?error=invalid_request&"* ]]'

get_code "$A" alice alice-pass 'openid email offline_access' n6 '&prompt=consent'
status=$(token "$CODE" "$VERIFIER")
check "offline_access + prompt=consent -> refresh_token" 'is "$status" 200 && jqt "$tmp/token.json" ".refresh_token"'
RT=$(jq -r '.refresh_token // empty' "$tmp/token.json")
status=$(curl -sS -o "$tmp/token.json" -w '%{http_code}' -u "$CID:$SECRET" -d grant_type=refresh_token --data-urlencode "refresh_token=$RT" "$I/token")
check "refresh grant -> 200, new id_token for alice" 'is "$status" 200 && is "$(id_claims | jq -r .sub)" alice'

# --- tamper modes ------------------------------------------------------------------
tamper() { curl -sS -o "$tmp/tamper.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"mode\": $1}" "$I/_test/tamper"; }
check "GET /_test/tamper -> {\"mode\":null}" 'is "$(curl -sS "$I/_test/tamper" | jq -c .)" "{\"mode\":null}"'
check "POST /_test/tamper unknown mode -> 400" 'is "$(tamper "\"bogus\"")" 400'
# MODE DESCRIPTION CONDITION: sets MODE, gets a token with it, then checks that
# the mode was reported, applied to a 200 response and reset, that the claims
# are alice's, and CONDITION (ID: the token, $tmp/f.h header, $tmp/f.c claims)
forged() {
  local mode=$1 set_status mode_now status after
  set_status=$(tamper "\"$mode\"")
  mode_now=$(curl -sS "$I/_test/tamper" | jq -r .mode)
  get_code "$A" alice alice-pass 'openid email profile groups' "n-$1"
  status=$(token "$CODE" "$VERIFIER")
  after=$(curl -sS "$I/_test/tamper" | jq -r .mode)
  ID=$(jq -r '.id_token // empty' "$tmp/token.json")
  jwt_part "$ID" 0 >"$tmp/f.h"; jwt_part "$ID" 1 >"$tmp/f.c"
  check "tamper $1: $2" 'is "$set_status/$mode_now/$status/$after" "200/$mode/200/null" &&
    jqt "$tmp/f.c" ".sub == \"alice\" and .email == \"alice@example.org\" and .groups == [\"developers\"] and .amr == [\"pwd\"]" && '"$3"
}
forged none "header {alg:none,typ:JWT} without kid, empty signature, claims intact" \
  'is "$(jq -cS . "$tmp/f.h")" "{\"alg\":\"none\",\"typ\":\"JWT\"}" && [[ $ID == *. ]] &&
   jqt "$tmp/f.c" ".iss == \"$I\" and .aud == \"$CID\" and .nonce == \"n-none\""'
forged unknown_key "RS256 with a kid not in the JWKS, claims intact" \
  'jqt "$tmp/f.h" ".alg == \"RS256\"" && not_in_jwks "$(jq -r .kid "$tmp/f.h")" &&
   [[ $(jwks_sig "$ID") == invalid* ]] && jqt "$tmp/f.c" ".iss == \"$I\" and .nonce == \"n-unknown_key\""'
forged issuer "iss http://127.0.0.1:1/other-issuer, real kid, valid signature" \
  'in_jwks "$(jq -r .kid "$tmp/f.h")" && is "$(jwks_sig "$ID")" valid &&
   jqt "$tmp/f.c" ".iss == \"http://127.0.0.1:1/other-issuer\" and .nonce == \"n-issuer\" and .aud == \"$CID\""'
forged expired "exp now-3600, iat now-7200, real kid, valid signature" \
  'in_jwks "$(jq -r .kid "$tmp/f.h")" && is "$(jwks_sig "$ID")" valid &&
   jqt "$tmp/f.c" ".exp < now - 3590 and .exp > now - 3610 and .iat == .exp - 3600 and .iss == \"$I\" and .nonce == \"n-expired\""'
forged nonce "nonce forged-nonce, real kid, valid signature" \
  'in_jwks "$(jq -r .kid "$tmp/f.h")" && is "$(jwks_sig "$ID")" valid &&
   jqt "$tmp/f.c" ".nonce == \"forged-nonce\" and .iss == \"$I\" and .aud == \"$CID\""'
forged audience "aud another-client, no azp, real kid, valid signature" \
  'in_jwks "$(jq -r .kid "$tmp/f.h")" && is "$(jwks_sig "$ID")" valid &&
   jqt "$tmp/f.c" ".aud == \"another-client\" and (has(\"azp\") | not) and .iss == \"$I\" and .nonce == \"n-audience\""'
forged hs256 "alg HS256 with the real kid, HMAC with the client secret" \
  'jqt "$tmp/f.h" ".alg == \"HS256\"" && in_jwks "$(jq -r .kid "$tmp/f.h")" && is "$(hs256_sig "$ID")" valid &&
   [[ $(jwks_sig "$ID") == invalid* ]] && jqt "$tmp/f.c" ".iss == \"$I\" and .nonce == \"n-hs256\""'
get_code "$A" alice alice-pass openid n-after
status=$(token "$CODE" "$VERIFIER")
check "the token response after a forged one is genuine" 'is "$status" 200 &&
  is "$(id_claims | jq -r .nonce)" n-after && is "$(jwks_sig "$(jq -r .id_token "$tmp/token.json")")" valid'

# --- extra claims -------------------------------------------------------------------
curl -fsS -o /dev/null -H 'Content-Type: application/json' \
  -d '{"sub": "alice", "claims": {"email_verified": false, "groups": ["developers", "admins"]}}' "$I/_test/claims"
get_code "$A" alice alice-pass 'openid email groups' n-claims
token "$CODE" "$VERIFIER" >/dev/null
id_claims >"$tmp/c.json"
curl -sS -H "Authorization: Bearer $(jq -r .access_token "$tmp/token.json")" "$I/me" >"$tmp/me.json"
check "POST /_test/claims: merged into id_token and userinfo" '
  jqt "$tmp/c.json" ".email_verified == false and .groups == [\"developers\",\"admins\"] and .email == \"alice@example.org\"" &&
  jqt "$tmp/me.json" ".email_verified == false and .groups == [\"developers\",\"admins\"]"'
curl -fsS -o /dev/null -X DELETE "$I/_test/claims"
get_code "$A" alice alice-pass 'openid email groups' n-reset
token "$CODE" "$VERIFIER" >/dev/null
id_claims >"$tmp/c.json"
check "DELETE /_test/claims: back to users.json" 'jqt "$tmp/c.json" ".email_verified == true and .groups == [\"developers\"]"'

# --- other users (not with OIDC_AUTO_LOGIN) -------------------------------------------
if [ "$auto" = no ]; then
  get_code "$tmp/dave.jar" dave dave-pass 'openid email groups' n-dave
  token "$CODE" "$VERIFIER" >/dev/null
  id_claims >"$tmp/c.json"
  check "dave: amr [pwd,otp,mfa], acr urn:warden:mfa, groups [admins]" 'jqt "$tmp/c.json" "
    .sub == \"dave\" and .amr == [\"pwd\",\"otp\",\"mfa\"] and .acr == \"urn:warden:mfa\" and .groups == [\"admins\"]"'
  get_code "$tmp/carol.jar" carol carol-pass 'openid email' n-carol
  token "$CODE" "$VERIFIER" >/dev/null
  id_claims >"$tmp/c.json"
  check "carol: email_verified false" 'jqt "$tmp/c.json" ".sub == \"carol\" and .email == \"carol@example.org\" and .email_verified == false"'
else
  echo "SKIP dave and carol logins (OIDC_AUTO_LOGIN mode)"
fi

# --- RP-initiated logout ---------------------------------------------------------------
# with OIDC_POST_LOGOUT_REDIRECT_URIS, back to its first URI, else to the OP's success page
PLR=$(cut -d, -f1 <<<"${OIDC_POST_LOGOUT_REDIRECT_URIS:-}")
after_logout=$I/session/end/success
logout_url="$I/session/end?id_token_hint=$(jq -r .id_token "$tmp/alice-token.json")&client_id=$(urlenc "$CID")"
if [ -n "$PLR" ]; then
  logout_url+="&post_logout_redirect_uri=$(urlenc "$PLR")&state=s-out"
  after_logout="$PLR?state=s-out"
fi
r=$(get "$A" "$logout_url")
xsrf=$(sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' "$tmp/body")
check "end_session -> 200 sign-out form with xsrf" '[ "${r%% *}" = 200 ] && [ -n "$xsrf" ] && grep -q "name=\"logout\" value=\"yes\"" "$tmp/body"'
r=$(curl -sS -c "$A" -b "$A" -o "$tmp/body" -w '%{http_code} %{redirect_url}' -d "xsrf=$xsrf" -d logout=yes "$I/session/end/confirm")
check "confirm sign-out -> 303 $after_logout" 'is "$r" "303 $after_logout"'
new_pkce
r=$(get "$A" "$(auth_url openid s7 n7)")
check "after sign-out, authorize asks for a login again" '[[ $r == "303 $I/interaction/"?* ]]'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
