import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Storage } from "../storage/types.js";
import type { ServerEvent } from "../types.js";
import { randomToken } from "../lib/crypto.js";
import type { Sealed, Sealer } from "../lib/seal.js";
import { keys as storageKeys } from "../storage/keys.js";

/** The signing algorithms Portcullis issues access tokens with. */
export type SigningAlgorithm = "ES256" | "EdDSA";

/**
 * One key as stored: the public half as a plain JWK; the private half sealed under
 * `keyEncryptionKeys` (`sealedPrivateJwk`) or, without that option, as a plain JWK
 * (`privateJwk`), when the store must be protected like the private key it holds.
 */
interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk?: JWK;
  /** The private JWK, AES-256-GCM with {@link sealContext} as additional data, and the id of the key that sealed it. */
  sealedPrivateJwk?: Sealed;
  publicJwk: JWK;
  /** When it was created, and published (epoch ms). */
  createdAt: number;
  /** When it starts signing (epoch ms). Absent in records of earlier releases: `createdAt`. */
  activeFrom?: number;
}

/**
 * One version of the key set. A version is written once, with `setIfAbsent` under its number:
 * that is the compare-and-set of every change, so of two instances changing the set at the same
 * moment one wins and the other adopts what it wrote.
 */
interface KeySetRecord {
  version: number;
  keys: StoredKey[];
  /** What made this version, and when (epoch ms): concurrent manual rotations are one rotation. */
  change: "create" | "schedule" | "rotate" | "retire" | "seal";
  changedAt: number;
}

/** A key ready to sign with. */
export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

/** A signing key as {@link KeyManager.list} describes it. Times are epoch milliseconds. */
export interface SigningKeyInfo {
  /** The key id, the `kid` of the tokens it signs and of its entry in the JWKS. */
  kid: string;
  alg: SigningAlgorithm;
  /**
   * `next`: published, signs from `activeFrom`; `current`: signs new access tokens;
   * `previous`: no longer signs, published until `publishedUntil` so its tokens keep verifying.
   */
  status: "next" | "current" | "previous";
  /** When it was created and first published. */
  createdAt: number;
  /** When it starts (or started) signing. */
  activeFrom: number;
  /** For a previous key: when every token it signed has expired and it leaves the JWKS. */
  publishedUntil?: number;
}

/**
 * The authorization server's signing keys (`server.keys`): kept in the store, shared by every
 * instance on it, and published at `jwks_uri`. With `signingKeyRotation` they rotate on a
 * schedule; these calls rotate or withdraw a key by hand.
 *
 * Every instance re-reads the set at most a second after it last did, and at once when a token
 * names a key it does not know, so instances on one store serve the same JWKS and accept each
 * other's tokens across rotations.
 */
export interface KeyManager {
  /**
   * The public keys, as served at `jwks_uri`: the next key (once published), the current one, and
   * previous ones until every token they signed has expired.
   *
   * @returns A JWK Set (RFC 7517 §5) of public keys, each with `kid`, `alg` and `use: "sig"`.
   * @throws Whatever the storage throws while loading the keys for the first time.
   */
  jwks(): Promise<{ keys: JWK[] }>;
  /**
   * The stored keys, oldest first, without their private halves.
   *
   * @returns Each key's id, algorithm, status and times.
   * @throws Whatever the storage throws while loading the keys for the first time.
   */
  list(): Promise<SigningKeyInfo[]>;
  /**
   * Rotates now: a new key signs from now on (the scheduled next key, when one is already
   * published), and the one it replaces stays published until every token it signed has
   * expired. A verifier that cached the JWKS before finds the new key when it first sees its
   * `kid`; give `activateInSeconds` to publish the key that long before it signs instead.
   * Rotations by several instances at the same moment make one rotation.
   *
   * @param options.activateInSeconds Publish now, sign from this many seconds on. Default 0.
   * @returns The key that signs (or will sign) next.
   * @throws Whatever the storage throws.
   *
   * @example
   * ```ts
   * const key = await server.keys.rotate();
   * console.log(`new tokens are signed by ${key.kid}`);
   * ```
   */
  rotate(options?: { activateInSeconds?: number }): Promise<SigningKeyInfo>;
  /**
   * Withdraws a key at once, for a key that may have leaked: it leaves the JWKS and the store,
   * and tokens it signed are refused by this instance at once and by others within a second.
   * Withdrawing the current key rotates first. Remote verifiers that cached the JWKS keep
   * accepting its tokens until they fetch it again.
   *
   * @param kid The key's id.
   * @returns Whether the key was in the set.
   * @throws Whatever the storage throws.
   *
   * @example
   * ```ts
   * await server.keys.retire("3Yc9...");
   * ```
   */
  retire(kid: string): Promise<boolean>;
}

/** What the server itself needs of its keys besides the public calls. */
export interface KeyRing extends KeyManager {
  /**
   * The key new access tokens are signed with: of the stored keys, the one that started signing
   * last. The first call loads (or creates) the set; a failed load is retried on the next call.
   */
  signingKey(): Promise<SigningKey>;
  /**
   * Like {@link KeyManager.jwks}; with `reload`, re-reads the store first (a token named a key
   * this instance does not know). The same object is answered until the set changes.
   */
  jwks(options?: { reload?: boolean }): Promise<{ keys: JWK[] }>;
  /**
   * The JWKS {@link KeyRing.jwks} would answer, when that needs no store read (the set was read
   * less than a second ago and no change is due); otherwise `undefined`.
   */
  loadedJwks(): { keys: JWK[] } | undefined;
}

/** Options of {@link createKeyManager}. */
export interface KeyManagerOptions {
  storage: Storage;
  /** The algorithm of keys created here. */
  alg: SigningAlgorithm;
  /** The clock, in epoch milliseconds. */
  now: () => number;
  /** The rotation period, or false for none (keys change only by hand). */
  rotationSeconds: number | false;
  /** How long a key stays published after it stops signing: access-token lifetime plus clock tolerance. */
  retainSeconds: number;
  /**
   * Seals private keys before they are stored (`keyEncryptionKeys`), and opens them. Without it
   * new keys are stored plain, and a sealed key cannot sign.
   */
  sealer?: Sealer;
  /** Told when a re-read fails while the keys already loaded keep serving. */
  onError?: (error: unknown) => void;
  /** Told of each version this instance wrote. */
  onEvent?: (event: Extract<ServerEvent, { type: "signing_keys.changed" }>) => void;
}

/** How long an instance serves the key set it read before reading it again. */
const REFRESH_MS = 1000;
/** Forced re-reads (a token naming an unknown key) happen at most this often. */
const FORCED_REFRESH_MS = 200;
/** A superseded version stays readable this long, for instances that read the one before. */
const SUPERSEDED_TTL_SECONDS = 300;
/** Attempts at a change that keeps losing to other instances' changes. */
const MAX_ATTEMPTS = 20;

/** The additional data a private key is sealed with: its own key id, so a sealed key moved to another record opens to nothing. */
const sealContext = (kid: string) => `portcullis/signing-key:${kid}`;

/** A private key is sealed with a key id this server does not hold, or does not open. */
export class SigningKeyUnavailableError extends Error {
  constructor(message: string) {
    super(`Portcullis: ${message}`);
    this.name = "SigningKeyUnavailableError";
  }
}

const activeFrom = (key: StoredKey) => key.activeFrom ?? key.createdAt;
const byActivation = (a: StoredKey, b: StoredKey) => activeFrom(a) - activeFrom(b);

/** The key that signs at `t`: the last to start signing; before any has, the first. */
function signingKeyAt(keys: StoredKey[], t: number): StoredKey | undefined {
  const sorted = [...keys].sort(byActivation);
  return sorted.filter((k) => activeFrom(k) <= t).at(-1) ?? sorted[0];
}

/**
 * The keys of a set with their status at `t`, oldest first; keys whose tokens have all expired
 * are left out.
 */
function describe(keys: StoredKey[], t: number, retainMs: number): { key: StoredKey; info: SigningKeyInfo }[] {
  const sorted = [...keys].sort(byActivation);
  const signing = signingKeyAt(sorted, t);
  const out: { key: StoredKey; info: SigningKeyInfo }[] = [];
  for (const [i, key] of sorted.entries()) {
    const base = { kid: key.kid, alg: key.alg, createdAt: key.createdAt, activeFrom: activeFrom(key) };
    if (key === signing) out.push({ key, info: { ...base, status: "current" } });
    else if (activeFrom(key) > t) out.push({ key, info: { ...base, status: "next" } });
    else {
      // It stopped signing when the key after it started.
      const publishedUntil = activeFrom(sorted[i + 1]!) + retainMs;
      if (publishedUntil > t) out.push({ key, info: { ...base, status: "previous", publishedUntil } });
    }
  }
  return out;
}

/**
 * Loads the signing keys from storage, creating the first one when there is none, and keeps
 * them rotating when a period is set. Keys live in storage so a restart, or another instance
 * sharing the store, signs and verifies with the same keys.
 *
 * Storage layout: each version of the set under `keys:set:<n>`, written only by `setIfAbsent`;
 * `keys:head` names the newest as last written. A reader starts from the highest of that and the
 * version it knows and reads forward until a version is missing. A superseded version expires a
 * few minutes after the next is written, taking withdrawn private keys with it; when a version
 * seals keys that were plain, the versions before it are deleted at once.
 */
export function createKeyManager(options: KeyManagerOptions): KeyRing {
  const { storage, alg, now, rotationSeconds, sealer } = options;
  const retainMs = options.retainSeconds * 1000;
  const periodMs = rotationSeconds === false ? undefined : rotationSeconds * 1000;

  interface State {
    record: KeySetRecord;
    /** When it was read (or last confirmed newest). */
    readAt: number;
    /** Until when it is served without reading the store again: a second, or the next scheduled change if sooner. */
    validUntil: number;
    jwks: { keys: JWK[] };
    /** The kids the JWKS holds, joined: a new JWKS object only when they change. */
    published: string;
  }
  let state: State | undefined;
  let loading: Promise<State> | undefined;
  let forcedAt = -Infinity;
  const privateKeys = new Map<string, Promise<CryptoKey>>();

  const newKey = async (signsFrom: number): Promise<StoredKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomToken(12);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
    return {
      kid,
      alg,
      ...(sealer ? { sealedPrivateJwk: await sealer.seal(privateJwk, sealContext(kid)) } : { privateJwk }),
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" },
      createdAt: now(),
      activeFrom: signsFrom,
    };
  };

  /** A key stored plain, sealed (with a sealer; otherwise, and once sealed, as it is). */
  const sealed = async (key: StoredKey): Promise<StoredKey> => {
    if (!sealer || !key.privateJwk) return key;
    const { privateJwk, ...rest } = key;
    return { ...rest, sealedPrivateJwk: await sealer.seal(privateJwk, sealContext(key.kid)) };
  };
  const hasPlainKeys = (record: { keys: StoredKey[] }) => sealer !== undefined && record.keys.some((k) => k.privateJwk);

  /** The private JWK of a key, opened when sealed. */
  const privateJwkOf = async (key: StoredKey): Promise<JWK> => {
    if (key.privateJwk) return key.privateJwk;
    const box = key.sealedPrivateJwk;
    if (!box) throw new SigningKeyUnavailableError(`signing key ${key.kid} is stored without its private half`);
    if (!sealer?.has(box.kid)) {
      throw new SigningKeyUnavailableError(
        `signing key ${key.kid} is encrypted with keyEncryptionKeys id ${JSON.stringify(box.kid)}, which ${sealer ? "is not among the configured keyEncryptionKeys" : "needs the keyEncryptionKeys option"}; configure that key (or rotate the signing key: server.keys.rotate())`,
      );
    }
    const jwk = await sealer.open<JWK>(box, sealContext(key.kid));
    if (!jwk)
      throw new SigningKeyUnavailableError(
        `signing key ${key.kid} does not decrypt under keyEncryptionKeys id ${JSON.stringify(box.kid)}: a different key under that id, or an altered record`,
      );
    return jwk;
  };

  /** Makes a version this instance's view, answering the same JWKS object while it lists the same keys. */
  const adopt = (record: KeySetRecord): State => {
    const visible = describe(record.keys, now(), retainMs);
    const published = visible.map((v) => v.key.kid).join(" ");
    const jwks = state && state.published === published ? state.jwks : { keys: visible.map((v) => v.key.publicJwk) };
    const t = now();
    state = { record, readAt: t, validUntil: Math.min(t + REFRESH_MS, nextChange(record, t)), jwks, published };
    return state;
  };

  /**
   * When the set's status next changes by itself (epoch ms): a waiting key starts signing (and,
   * on a schedule, its successor is due), or a previous key's tokens have all expired.
   */
  const nextChange = (record: KeySetRecord, t: number): number => {
    let at = Infinity;
    for (const { info } of describe(record.keys, t, retainMs)) {
      if (info.status === "next") at = Math.min(at, info.activeFrom);
      if (info.publishedUntil !== undefined) at = Math.min(at, info.publishedUntil);
    }
    if (periodMs !== undefined && scheduled(record, t).needed) at = t;
    return at;
  };

  /** The newest stored version: from the hint or the version known, reading forward. */
  const readNewest = async (known?: KeySetRecord): Promise<KeySetRecord | undefined> => {
    const hint = (await storage.get<number>(storageKeys.signingKeyHead())) ?? 0;
    let record: KeySetRecord | undefined = known;
    // No hint yet: a first start, or a writer that stopped between its version and the hint.
    if (hint === 0 && !known) record = await storage.get<KeySetRecord>(storageKeys.signingKeySet(1));
    if (hint > (known?.version ?? 0)) {
      record = await storage.get<KeySetRecord>(storageKeys.signingKeySet(hint));
      // The hint names a version gone already (a writer stalled for minutes): find the newest by listing.
      record ??= (await storage.list<KeySetRecord>(storageKeys.signingKeySets())).at(-1)?.value;
    }
    for (;;) {
      if (!record) return undefined;
      const next = await storage.get<KeySetRecord>(storageKeys.signingKeySet(record.version + 1));
      if (!next) return record;
      record = next;
    }
  };

  /** Writes the next version after `base`; answers whether it won. */
  const write = async (base: KeySetRecord | undefined, next: KeySetRecord): Promise<boolean> => {
    if (!(await storage.setIfAbsent(storageKeys.signingKeySet(next.version), next))) return false;
    const retired = next.change === "retire" ? base?.keys.find((k) => !next.keys.some((n) => n.kid === k.kid))?.kid : undefined;
    options.onEvent?.({
      type: "signing_keys.changed",
      change: next.change,
      version: next.version,
      kids: next.keys.map((k) => k.kid),
      ...(retired ? { retired } : {}),
    });
    await storage.set(storageKeys.signingKeyHead(), next.version);
    if (base && hasPlainKeys(base) && !hasPlainKeys(next)) {
      // The versions before hold private keys in plain: gone at once (a reader that misses one lists the set).
      for (const { key } of await storage.list(storageKeys.signingKeySets())) {
        if (key < storageKeys.signingKeySet(next.version)) await storage.delete(key);
      }
      return true;
    }
    // The version before stays readable a little while; older ones already expire.
    if (base) await storage.set(storageKeys.signingKeySet(base.version), base, { ttlSeconds: SUPERSEDED_TTL_SECONDS });
    return true;
  };

  /** The first version: the keys an earlier release stored, or a fresh key. */
  const createFirst = async (): Promise<KeySetRecord> => {
    const legacy = await storage.get<StoredKey[]>(storageKeys.signingKeys());
    const keys = legacy && legacy.length > 0 ? legacy : [await newKey(now())];
    const first: KeySetRecord = { version: 1, keys, change: "create", changedAt: now() };
    if (await write(undefined, first)) {
      if (legacy) await storage.delete(storageKeys.signingKeys());
      return first;
    }
    const winner = await readNewest();
    if (!winner) throw new Error("Portcullis: the signing key set was written and is gone");
    return winner;
  };

  /**
   * Applies a change by compare-and-set: computes the next version from the newest one, writes it
   * if no other instance wrote that version first, otherwise starts again from theirs. `change`
   * answers undefined when nothing (more) needs changing.
   */
  const commit = async (from: KeySetRecord, change: (record: KeySetRecord) => Promise<Omit<KeySetRecord, "version"> | undefined>): Promise<KeySetRecord> => {
    let base = from;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const changed = await change(base);
      if (!changed) return base;
      const next = { ...changed, version: base.version + 1 };
      if (await write(base, next)) {
        adopt(next);
        return next;
      }
      base = (await readNewest(base)) ?? base;
      adopt(base);
    }
    throw new Error("Portcullis: the signing key set kept changing under this instance; try again");
  };

  /**
   * What the schedule asks of a version at `t`: the keys whose tokens have all expired dropped,
   * and, once a key signs, the next one published. That one signs a period after the current one
   * started, and never less than half a period after it was published.
   */
  const scheduled = (record: KeySetRecord, t: number) => {
    const kept = describe(record.keys, t, retainMs).map((v) => v.key);
    const current = signingKeyAt(kept, t)!;
    const due = periodMs !== undefined && !kept.some((k) => activeFrom(k) > activeFrom(current));
    return { kept, current, due, needed: due || kept.length !== record.keys.length };
  };

  const housekeeping = async (record: KeySetRecord): Promise<Omit<KeySetRecord, "version"> | undefined> => {
    const t = now();
    const { kept, current, due, needed } = scheduled(record, t);
    if (!needed) return undefined;
    const keys = due ? [...kept, await newKey(Math.max(activeFrom(current) + periodMs!, t + periodMs! / 2))] : kept;
    return { keys, change: "schedule", changedAt: t };
  };

  /** Housekeeping, and the private keys stored plain sealed (with a sealer): one version for both. */
  const maintain = async (record: KeySetRecord): Promise<Omit<KeySetRecord, "version"> | undefined> => {
    const change = await housekeeping(record);
    if (!hasPlainKeys(change ?? record)) return change;
    const base = change ?? { keys: record.keys, change: "seal" as const, changedAt: now() };
    return { ...base, keys: await Promise.all(base.keys.map(sealed)) };
  };

  /** Reads the newest version (creating the first), then applies what the schedule asks for and seals plain keys. */
  const read = async (): Promise<State> => {
    const record = (await readNewest(state?.record)) ?? (await createFirst());
    const current = adopt(record);
    return scheduled(record, now()).needed || hasPlainKeys(record) ? adopt(await commit(record, maintain)) : current;
  };

  /** The key set, re-read when a second old (or when forced); a failed re-read keeps the one loaded. */
  const load = async (force = false): Promise<State> => {
    const t = now();
    if (state && !loading) {
      const fresh = t >= state.readAt && t < state.validUntil;
      if (fresh && !(force && t - forcedAt >= FORCED_REFRESH_MS)) return state;
      if (force) forcedAt = t;
    }
    loading ??= read().finally(() => {
      loading = undefined;
    });
    try {
      return await loading;
    } catch (error) {
      if (!state) throw error;
      options.onError?.(error);
      state.readAt = now();
      state.validUntil = state.readAt + REFRESH_MS;
      return state;
    }
  };

  const infoOf = (record: KeySetRecord, kid: string): SigningKeyInfo | undefined => describe(record.keys, now(), retainMs).find((v) => v.key.kid === kid)?.info;

  return {
    async signingKey() {
      const { record } = await load();
      const key = signingKeyAt(record.keys, now())!;
      let privateKey = privateKeys.get(key.kid);
      if (!privateKey) {
        privateKey = privateJwkOf(key).then((jwk) => importJWK(jwk, key.alg) as Promise<CryptoKey>);
        privateKey.catch(() => privateKeys.delete(key.kid));
        privateKeys.set(key.kid, privateKey);
      }
      return { kid: key.kid, alg: key.alg, privateKey: await privateKey };
    },

    jwks: async (options?: { reload?: boolean }) => (await load(options?.reload === true)).jwks,

    loadedJwks() {
      if (!state || loading) return undefined;
      const t = now();
      return t >= state.readAt && t < state.validUntil ? state.jwks : undefined;
    },

    list: async () => describe((await load()).record.keys, now(), retainMs).map((v) => v.info),

    async rotate(options: { activateInSeconds?: number } = {}) {
      const delay = options.activateInSeconds ?? 0;
      if (!Number.isFinite(delay) || delay < 0) throw new TypeError("Portcullis: activateInSeconds must be a non-negative number of seconds");
      const started = now();
      let kid: string | undefined;
      const record = await commit((await load()).record, async (base) => {
        // Another instance rotated by hand while this call ran: that is this rotation.
        if (base.change === "rotate" && base.changedAt >= started) return undefined;
        const t = now();
        const signsFrom = t + delay * 1000;
        const keys = describe(base.keys, t, retainMs).map((v) => v.key);
        const waiting = keys.find((k) => activeFrom(k) > t);
        if (waiting && activeFrom(waiting) >= signsFrom) {
          kid = waiting.kid;
          return { keys: keys.map((k) => (k === waiting ? { ...k, activeFrom: signsFrom } : k)), change: "rotate", changedAt: t };
        }
        const fresh = await newKey(signsFrom);
        kid = fresh.kid;
        return { keys: [...keys, fresh], change: "rotate", changedAt: t };
      });
      const sorted = [...record.keys].sort(byActivation);
      return infoOf(record, kid && record.keys.some((k) => k.kid === kid) ? kid : sorted.at(-1)!.kid)!;
    },

    async retire(kid: string) {
      let found = false;
      await commit((await load()).record, async (base) => {
        const target = base.keys.find((k) => k.kid === kid);
        if (!target) return undefined;
        found = true;
        const t = now();
        let keys = base.keys.filter((k) => k !== target);
        if (signingKeyAt(base.keys, t) === target) {
          // It was signing: the waiting key takes over now, or a new one.
          const waiting = keys.filter((k) => activeFrom(k) > t).sort(byActivation)[0];
          keys = waiting ? keys.map((k) => (k === waiting ? { ...k, activeFrom: t } : k)) : [...keys, await newKey(t)];
        }
        return { keys, change: "retire", changedAt: t };
      });
      return found;
    },
  };
}
