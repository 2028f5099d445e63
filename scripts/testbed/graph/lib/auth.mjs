// Bearer tokens: minted by the control API (no OAuth2 server needed), or checked by token
// introspection (RFC 7662) at the test OAuth2 server (../../oauth2.sh), scope or audience
// included. The result says who the token acts for: a user (delegated, /me allowed) or an
// application (app-only, any /users/{id}, no /me), and which Mail permissions it carries.

import * as crypto from 'node:crypto';

export class AuthError extends Error {}

export const ALL_PERMISSIONS = ['Mail.Read', 'Mail.ReadWrite', 'Mail.Send'];
// Introspection answers are cached this long (ms) so a busy test does not hammer the server.
const INTROSPECTION_CACHE_MS = 1000;
const MAX_INTROSPECTION_BYTES = 65536;

export class Authenticator {
  constructor(config, counters) {
    this.config = config;
    this.counters = counters;
    this.minted = new Map(); // token -> {user, app, clientId, permissions}
    this.cache = new Map();
  }

  reset() { this.minted.clear(); this.cache.clear(); }

  mint({ user, app = false, permissions = ALL_PERMISSIONS, clientId = 'graph-fake-test-app' }) {
    const token = `mbfake.${crypto.randomBytes(24).toString('base64url')}`;
    this.minted.set(token, { user, app, clientId, permissions });
    return token;
  }

  // header -> principal, or throws AuthError with Graph's message.
  async authenticate(header) {
    if (!header) throw new AuthError('Access token is empty.');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new AuthError('Access token validation failure: the Authorization header is not "Bearer <token>".');
    const token = m[1];
    const minted = this.minted.get(token);
    if (minted) return minted;
    if (!this.config.introspect_url) throw new AuthError('Access token validation failure. Invalid audience. (unknown token; no OAuth2 introspection configured)');
    const hit = this.cache.get(token);
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = await this.introspect(token);
    this.cache.set(token, { principal, until: Date.now() + INTROSPECTION_CACHE_MS });
    return principal;
  }

  async introspect(token) {
    const cfg = this.config;
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    if (cfg.introspect_client_id) {
      headers.authorization = `Basic ${Buffer.from(`${cfg.introspect_client_id}:${cfg.introspect_client_secret ?? ''}`).toString('base64')}`;
    }
    this.counters.introspections += 1;
    let info;
    try {
      const r = await fetch(cfg.introspect_url, {
        method: 'POST', headers, body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: AbortSignal.timeout(5000),
      });
      const text = await r.text();
      if (text.length > MAX_INTROSPECTION_BYTES) throw new Error('answer too large');
      info = JSON.parse(text);
    } catch (e) {
      throw new AuthError(`Access token validation failure: introspection failed (${e.name}).`);
    }
    if (info.active !== true) throw new AuthError('Lifetime validation failed, the token is expired.');
    const want = cfg.required_scope;
    const scopes = String(info.scope ?? '').split(' ').filter(Boolean);
    const auds = Array.isArray(info.aud) ? info.aud : info.aud ? [info.aud] : [];
    if (want && !scopes.includes(want) && !auds.includes(want)) {
      throw new AuthError(`Access token validation failure. Invalid audience. (needs scope or audience '${want}')`);
    }
    // oidc-provider: a client-credentials token has no sub (app-only); a user's token has one.
    const user = info.username || info.sub || null;
    return { user, app: !info.sub, clientId: info.client_id ?? 'unknown', permissions: ALL_PERMISSIONS };
  }
}
