/**
 * The lifecycle every conformance suite shares (Keyv's and abstract-level's idea): each test gets
 * a fresh instance from the caller's factory, released after it.
 */
import { afterEach, beforeEach } from 'vitest';

/**
 * Registers the beforeEach/afterEach pair in the current describe block and returns the getter of
 * the current test's instance; `what` names the factory in the error of a getter called too early.
 */
export function freshEach<T extends { close?: () => Promise<void> }>(factory: () => T | Promise<T>, what: string, timeoutMs?: number): () => T {
  let under: T | undefined;
  beforeEach(async () => {
    under = await factory();
  }, timeoutMs);
  afterEach(async () => {
    const current = under;
    under = undefined;
    await current?.close?.();
  }, timeoutMs);
  return () => {
    if (!under) throw new Error(`${what} factory did not run`);
    return under;
  };
}
