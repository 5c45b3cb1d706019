/**
 * The rate limiter's buckets (its `store`). @fastify/rate-limit's own in-memory store is an LRU of
 * 5000 buckets: a client cycling through more keys than that (IPs, IPv6 /64s, which are cheap) evicted
 * the bucket of a throttled client, whose limit then started again from zero. Here no bucket is
 * dropped while its window runs:
 *
 * - A valid API key (`key:` buckets, as the keyGenerator in server.ts names them) always has a bucket
 *   of its own: there are no more of them than keys in the key ring.
 * - The buckets of clients without a valid key (`ip:`) are at most `maxClients` at once. When that
 *   many are in their window, a client without a bucket counts in one bucket shared by all such
 *   clients, with the same limit, until a window ends and frees a place: past `maxClients` clients in
 *   a window, new clients without a key are limited together, never a throttled one set free.
 *
 * One fixed window per bucket, as the LocalStore's (no continueExceeding or exponentialBackoff: the
 * server sets neither). Buckets are kept in the order their windows started (a restarted window is
 * moved to the end), so the expired ones are at the front and are dropped there, in O(1) per request.
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

interface Bucket {
  current: number;
  start: number;
}

type Result = { current: number; ttl: number };

/** A store class for @fastify/rate-limit's `store` option; `onFull` is told when new clients start sharing the overflow bucket. */
export function boundedRateStore(maxClients: number, onFull: (clients: number) => void): FastifyRateLimitStoreCtor {
  return class BoundedRateStore implements FastifyRateLimitStore {
    readonly #keys = new Map<string, Bucket>();
    readonly #clients = new Map<string, Bucket>();
    #overflow: Bucket | undefined;

    incr(key: string, callback: (error: Error | null, result?: Result) => void, timeWindow: number): void {
      const now = Date.now();
      const live = (b: Bucket | undefined): b is Bucket => b !== undefined && b.start + timeWindow > now;
      const buckets = key.startsWith('key:') ? this.#keys : this.#clients;
      for (const [k, b] of buckets) {
        if (live(b)) break;
        buckets.delete(k);
      }
      let bucket = buckets.get(key);
      if (!live(bucket)) {
        buckets.delete(key);
        if (buckets === this.#clients && buckets.size >= maxClients) {
          if (!live(this.#overflow)) {
            this.#overflow = { current: 0, start: now };
            onFull(buckets.size);
          }
          bucket = this.#overflow;
        } else {
          bucket = { current: 0, start: now };
          buckets.set(key, bucket);
        }
      }
      bucket.current++;
      callback(null, { current: bucket.current, ttl: bucket.start + timeWindow - now });
    }

    child(): FastifyRateLimitStore {
      return new BoundedRateStore();
    }
  };
}
