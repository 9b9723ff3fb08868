// A real OpenID provider for oauthrt's conformance tests: panva's
// oidc-provider (the exact version is pinned in package.json), configured
// to demand DPoP with server nonces, to rotate refresh tokens, and to
// finish every authorization request without a human.
//
//   PORT=0 node server.mjs        (or: node server.mjs 0)
//
// It listens on 127.0.0.1 only, on PORT (0, the default, picks a free
// port), and prints exactly one line on stdout once it answers:
//
//   listening http://127.0.0.1:<port>
//
// That URL is the issuer. Everything else it says (oidc-provider's
// notices and warnings, request errors) goes to stderr. State lives in
// memory and dies with the process. ACCESS_TOKEN_TTL (seconds, default 3)
// sets the access tokens' lifetime.
//
// Plain http on loopback needs nothing special: oidc-provider 9.13.3
// accepts an http:// issuer, never reads NODE_ENV (koa only uses it to
// decide how loudly to log errors), and its cookies are not marked
// secure by default (docs, "cookies.long" and "cookies.short"), so koa
// sets them over http. It warns on stderr that Node 20 is not a
// supported runtime (lib/index.js asks for 22 LTS or later; it declares
// no engines, and it serves everything these tests use on Node 20.20);
// that warning is expected here.
//
// Facts about oidc-provider below carry their source: its configuration
// reference, https://github.com/panva/node-oidc-provider/blob/v9.11.4/docs/README.md
// ("docs" below), its event list,
// https://github.com/panva/node-oidc-provider/blob/v9.11.4/docs/events.md,
// and the source of the installed 9.13.3 under
// node_modules/oidc-provider/lib, which every behaviour relied on was
// checked against; all read 2026-11-30.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// oidc-provider prints its notices with console.info (lib/helpers/
// attention.js), which is stdout; stdout carries only the listening line,
// so that a script can wait for it, and everything else goes to stderr.
console.info = console.error;
console.log = console.error;

const { default: Provider, errors } = await import('oidc-provider');
const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server.mjs: bad port ${process.argv[2] ?? process.env.PORT}`);
  process.exit(2);
}
const accessTokenTTL = Number(process.env.ACCESS_TOKEN_TTL ?? 3);
if (!Number.isInteger(accessTokenTTL) || accessTokenTTL <= 0) {
  console.error(`server.mjs: ACCESS_TOKEN_TTL must be a positive whole number of seconds, not ${process.env.ACCESS_TOKEN_TTL}`);
  process.exit(2);
}

// The one account every authorization request logs in as.
const ACCOUNT = 'alice';
const REDIRECT_URI = 'http://127.0.0.1/cb';

// The dpop-client's key: client-key.pem is a test-only EC P-256 key,
// committed so that the Go tests can sign private_key_jwt assertions with
// it. The client's registered JWKS is its public half.
const clientKey = createPrivateKey(readFileSync(new URL('./client-key.pem', import.meta.url)));
const clientJWK = { ...createPublicKey(clientKey).export({ format: 'jwk' }), use: 'sig', alg: 'ES256' };

// The provider's own ID token signing key: made fresh on every start, so
// that no signing key is committed and oidc-provider does not fall back
// to its published development keys (docs, "jwks").
const signingJWK = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  use: 'sig',
  alg: 'RS256',
  kid: 'test-signing-key',
};

// ---- counters, served at GET /__stats and zeroed by POST /__stats/reset.

function freshStats() {
  return {
    // token endpoint: successes by grant_type, errors by OAuth error code
    token: { ok: {}, errors: {} },
    // the resource endpoint, which is oidc-provider's userinfo endpoint
    // (GET or POST /me): successes, errors by code (use_dpop_nonce counts
    // the nonce challenges)
    resource: { ok: 0, errors: {} },
    // revocation endpoint: 200 answers (RFC 7009 answers 200 for unknown
    // tokens too), errors by code
    revocation: { ok: 0, errors: {} },
    // grants ended (the "grant.revoked" event): by a rotated-out refresh
    // token coming back, or by the revocation of a refresh token. The
    // revocation of an access token also revokes every token of its
    // grant (lib/helpers/revoke.js) but keeps the Grant, emits nothing,
    // and is not counted here.
    grants_revoked: 0,
  };
}
let stats = freshStats();
const bump = (counts, key) => { counts[key] = (counts[key] ?? 0) + 1; };
const errorCode = (err) => err?.error ?? 'server_error';

// ---- storage: oidc-provider's own in-memory adapter, without its bound.
//
// The default adapter (lib/adapters/memory_adapter.js) keeps everything
// in lib/helpers/lru.js: two generations of at most 1000 entries each,
// the older dropped whole when the newer fills, so an entry not read
// while 1000 to 2000 others are written is gone. Every DPoP proof the
// server checks writes one (its jti, for replay detection:
// lib/helpers/validate_dpop.js checkDpopReplay). Under the soak's
// thousands of requests a second, a refresh token, read only when it is
// used, fell out between two refreshes a second apart, and its next
// refresh was refused as "refresh token not found" (invalid_grant): a
// lost token, not a reused one. The same adapter class over an unbounded
// Map (its constructor takes the store, and calls only get, set with
// maxAge in milliseconds, and delete) keeps every entry until it expires.
// A run's entries are one per request for five minutes (the replay
// window, lib/helpers/validate_dpop.js CHALLENGE_OK_WINDOW), a few
// megabytes for a soak; expired ones are swept once a minute. Source:
// oidc-provider 9.13.3 under node_modules, read 2026-11-30.
class UnboundedStore {
  #entries = new Map(); // key → { value, expiry: ms since the epoch, or undefined }

  get(key) {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  delete(key) {
    return this.#entries.delete(key);
  }

  sweep() {
    const now = Date.now();
    for (const [key, e] of this.#entries) {
      if (e.expiry !== undefined && e.expiry <= now) this.#entries.delete(key);
    }
  }
}
const storage = new UnboundedStore();
setInterval(() => storage.sweep(), 60_000).unref();

// ---- the provider's configuration.

function configuration() {
  return {
    clients: [
      {
        // A confidential client that authenticates with private_key_jwt
        // and whose access tokens must be DPoP-bound. oidc-provider binds
        // only a public client's refresh tokens to the DPoP key
        // (lib/helpers/set_rt_bindings.js binds rt.jkt only when the
        // client's auth method is "none"), so this client's refresh
        // tokens are not bound; a refresh still needs a DPoP proof, since
        // lib/helpers/sender_constraints.js checkDpopRequired rejects a
        // token request without one from a dpop_bound_access_tokens
        // client ("DPoP proof JWT not provided", invalid_grant).
        client_id: 'dpop-client',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [clientJWK] },
        dpop_bound_access_tokens: true,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid offline_access',
      },
      {
        // A public client: its access tokens and, because it has no
        // client authentication, its refresh tokens are bound to the
        // DPoP key of the token request that issued them
        // (lib/helpers/set_rt_bindings.js); a refresh must then present
        // a proof from the same key ("failed jkt verification",
        // lib/actions/grants/refresh_token.js).
        client_id: 'dpop-public',
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid offline_access',
      },
    ],

    jwks: { keys: [signingJWK] },

    // See UnboundedStore above; clockTolerance as below.
    adapter: (model) => new MemoryAdapter(model, storage, 0),

    // Signed cookies for the session and interaction state, with a key
    // of this run's own (docs, "cookies.keys").
    cookies: { keys: [randomBytes(32).toString('base64url')] },

    findAccount(_ctx, sub) {
      if (sub !== ACCOUNT) return undefined;
      return { accountId: sub, async claims() { return { sub }; } };
    },

    features: {
      // No login page: the interaction route below finishes login and
      // consent by itself (docs, "features.devInteractions": the
      // built-in views are development-only and ask for a username).
      devInteractions: { enabled: false },

      // DPoP (RFC 9449) with server nonces everywhere a proof is checked.
      // docs, "features.dPoP": nonceSecret must be a 32-byte Buffer, and
      // requireNonce(ctx) decides whether a proof without a nonce is
      // refused. lib/helpers/validate_dpop.js calls requireNonce for
      // every proof it validates (every grant at the token endpoint,
      // userinfo) and, when the proof has no nonce or one it does not
      // recognise, answers use_dpop_nonce with a DPoP-Nonce header. On
      // a success it sends DPoP-Nonce too whenever the proof's nonce is
      // not the newest. Nonces are not stored: lib/helpers/challenge.js
      // derives them from the secret and the current 60-second step,
      // hands out the next step's value, and accepts the values of steps
      // -2..+2, so one nonce stays good for about three to five minutes,
      // for any client and any endpoint, and is not single-use. A proof
      // with a nonce has its iat left unchecked; the 300-second iat
      // window applies only to proofs without one. Replays are refused
      // by jti (allowReplay false). A random secret per run means nonces
      // never outlive the process.
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => true,
        allowReplay: false,
      },

      // RFC 7009 revocation at POST /token/revocation (docs,
      // "features.revocation"; disabled by default).
      revocation: {
        enabled: true,
        // A client may revoke its own tokens only. Revoking any token
        // revokes every token of its grant: lib/actions/revocation.js
        // calls revoke(ctx, grantId) (lib/helpers/revoke.js), which runs
        // revokeByGrantId on the access token, refresh token and code
        // models whatever the token was; revokeGrantPolicy (docs; its
        // default is false for an access token's revocation) decides
        // only whether the Grant record goes too. So revoking an access
        // token kills the refresh token beside it.
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },

      // The protected resource: GET or POST /me (docs,
      // "features.userinfo"). lib/shared/access_token.js runs every
      // userinfo request through lib/helpers/validate_dpop.js (htm, htu,
      // iat or nonce, ath, and requireNonce above) and then demands that
      // a DPoP-bound token come with a proof from the bound key ("failed
      // jkt verification", invalid_token) that is not a replay
      // (checkDpopReplay, invalid_token). lib/shared/
      // set_www_authenticate_header.js turns use_dpop_nonce and
      // invalid_dpop_proof there into 401 with
      // WWW-Authenticate: DPoP error="...", so no resource route of our
      // own is needed.
      userinfo: { enabled: true },

      clientCredentials: { enabled: false },
    },

    // Where the provider sends the user agent when it needs a login or a
    // consent (this is the default, docs "interactions.url"; it is
    // spelled out because the route below serves it).
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },

    // docs, "rotateRefreshToken": with true, "refresh tokens shall be
    // rotated when used, with the current token marked as consumed and a
    // new one issued with new TTL; when a consumed refresh token is
    // encountered an error shall be returned and the whole token chain
    // (grant) is revoked". lib/actions/grants/refresh_token.js does it:
    // a consumed token is destroyed, revoke(ctx, grantId) revokes every
    // access token, refresh token and code of the grant and destroys the
    // grant (lib/helpers/revoke.js; revokeGrantPolicy's default is true
    // outside the revocation of an access token), and the answer is
    // invalid_grant "refresh token already used". The default policy
    // rotates a confidential or sender-constrained client's token only
    // once 70% of its TTL has passed.
    rotateRefreshToken: true,

    // docs, "issueRefreshToken": a refresh token whenever the client may
    // use the refresh_token grant and offline_access was granted. Note
    // that lib/actions/authorization/scopes.js drops offline_access from
    // an authorization request whose prompt does not include consent,
    // so the tests ask with prompt=consent.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),

    // PKCE for every client, not only public ones (docs, "pkce.required").
    pkce: { required: () => true },

    // docs, "clockTolerance" (default 15 seconds): the skew allowed on
    // every time check, the expiry of opaque tokens included
    // (lib/models/formats/opaque.js verify, lib/helpers/jwt.js: expired
    // once now - clockTolerance >= exp; the memory adapter keeps entries
    // for TTL + clockTolerance). Left at 15, a 3-second access token
    // would still be accepted 17 seconds later. The tests share this
    // machine's clock, so there is no skew to allow for.
    clockTolerance: 0,

    // docs, "ttl": seconds, or functions returning seconds.
    ttl: {
      AccessToken: accessTokenTTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 60 * 60,
      Interaction: 10 * 60,
      Session: 60 * 60,
      Grant: 24 * 60 * 60,
    },

    // No browser calls this server.
    clientBasedCORS: () => false,

    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

// ---- the interaction route: login as alice, consent to what was asked.

async function interaction(provider, ctx) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  switch (prompt.name) {
    case 'login':
      result = { login: { accountId: ACCOUNT } };
      break;
    case 'consent': {
      // The consent prompt's details name what the grant still lacks
      // (lib/helpers/interaction_policy/prompts/consent.js):
      // missingOIDCScope (offline_access among them when asked with
      // prompt=consent), missingOIDCClaims, missingResourceScopes.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
      break;
    }
    default:
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: `server.mjs: no automatic answer to the ${prompt.name} prompt` };
      return;
  }
  // interactionFinished answers 303 to the authorization endpoint's
  // resume URL on the raw response; koa must not answer again.
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
}

// ---- start.

function build(issuer) {
  const provider = new Provider(issuer, configuration());

  // Counters from the provider's events (docs/events.md; the names are
  // emitted by lib/actions/token.js "grant.success", lib/shared/
  // error_handler.js "<route>.error" for handled errors, and
  // lib/helpers/revoke.js "grant.revoked"). There is no event for a
  // successful userinfo or revocation answer, so the middleware below
  // counts those.
  provider.on('grant.success', (ctx) => bump(stats.token.ok, ctx.oidc.params.grant_type ?? 'unknown'));
  provider.on('grant.error', (_ctx, err) => bump(stats.token.errors, errorCode(err)));
  provider.on('userinfo.error', (_ctx, err) => bump(stats.resource.errors, errorCode(err)));
  provider.on('revocation.error', (_ctx, err) => bump(stats.revocation.errors, errorCode(err)));
  provider.on('grant.revoked', () => { stats.grants_revoked += 1; });
  provider.on('server_error', (ctx, err) => {
    console.error(`server.mjs: server_error on ${ctx.method} ${ctx.path}:`, err);
    if (ctx.path === '/token') bump(stats.token.errors, 'server_error');
    if (ctx.path === '/me') bump(stats.resource.errors, 'server_error');
    if (ctx.path === '/token/revocation') bump(stats.revocation.errors, 'server_error');
  });

  provider.use(async (ctx, next) => {
    if (ctx.path === '/__stats' && ctx.method === 'GET') {
      ctx.body = stats;
      return;
    }
    if (ctx.path === '/__stats/reset' && ctx.method === 'POST') {
      stats = freshStats();
      ctx.status = 204;
      return;
    }
    const uid = /^\/interaction\/([^/]+)$/.exec(ctx.path)?.[1];
    if (uid && ctx.method === 'GET') {
      try {
        await interaction(provider, ctx);
      } catch (err) {
        if (!(err instanceof errors.OIDCProviderError)) throw err;
        ctx.respond = true;
        ctx.status = err.statusCode;
        ctx.body = { error: err.error, error_description: err.error_description };
      }
      return;
    }
    await next();
    if (ctx.status === 200 && (ctx.path === '/me')) stats.resource.ok += 1;
    if (ctx.status === 200 && ctx.path === '/token/revocation' && ctx.method === 'POST') stats.revocation.ok += 1;
  });

  return provider;
}

// The issuer holds the port, which port 0 leaves to the kernel: listen
// first, then build the provider; a request that came before it (none can,
// since nobody knows the port yet) would get 503.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  handler = build(issuer).callback();
  process.stdout.write(`listening ${issuer}\n`);
});
server.on('error', (err) => {
  console.error('server.mjs:', err.message);
  process.exit(1);
});
