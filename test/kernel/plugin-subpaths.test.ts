/**
 * `limit-graph/plugins/<name>` in the checkout: tsconfig `paths` (tsc, tsx) and the vitest alias map
 * it to the plugin's index.ts, as the package's `exports` map it to dist/ for installed users
 * (test/kernel/package.test.ts), so README samples read the same in both places.
 */
import { describe, expect, it } from 'vitest';
import * as rdFgwByName from 'limit-graph/plugins/rd-fgw';
import * as rdFgw from '../../plugins/rd-fgw/index.ts';
import * as apiHttpByName from 'limit-graph/plugins/api-http';
import * as apiHttp from '../../plugins/api-http/index.ts';

describe('limit-graph/plugins/<name>', () => {
  it("is the plugin's own module, not a copy", () => {
    expect(rdFgwByName).toBe(rdFgw);
    expect(apiHttpByName).toBe(apiHttp);
    expect(typeof rdFgwByName.createFgwService).toBe('function');
  });
});
