/**
 * The built-in RD plugins run their kinds' conformance suites (`limit-graph/testing`), each from a
 * fresh runtime per test:
 * - knee detectors: Kneedle told each curve's shape, Menger (shape-blind) in raw and in normalised
 *   coordinates — only the normalised variant promises invariance under rescaling;
 * - distortion (`rd:fgw`): exact and entropic at the default α = 0.5, and α = 0 (plain optimal
 *   transport). Entropic plans are blurred by ε, so d(G, G) is small rather than 0;
 * - rates (`rate:shannon`).
 */
import { createRuntime } from 'limit-graph';
import { distortionConformance, kneeConformance, rateConformance, type KneeShape } from 'limit-graph/testing';

const runtimeWith = async (plugin: string, options: Record<string, unknown> | true, key: 'knee:menger' | 'knee:kneedle') => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { [plugin]: options } } });
  return { detector: rt.resolve(key), close: () => rt.close().then(() => undefined) };
};

kneeConformance('knee-kneedle', () => runtimeWith('knee-kneedle', true, 'knee:kneedle'), {
  supports: { scaleInvariant: true },
  callOptions: (shape: KneeShape) => {
    const [curve, direction] = shape.split('-');
    return { curve, direction };
  },
});

kneeConformance('knee-kneedle (online)', () => runtimeWith('knee-kneedle', { online: true }, 'knee:kneedle'), {
  supports: { scaleInvariant: true },
  callOptions: (shape: KneeShape) => {
    const [curve, direction] = shape.split('-');
    return { curve, direction };
  },
});

kneeConformance('knee-menger (raw coordinates)', () => runtimeWith('knee-menger', true, 'knee:menger'));

kneeConformance('knee-menger (normalize: true)', () => runtimeWith('knee-menger', { normalize: true }, 'knee:menger'), {
  supports: { scaleInvariant: true },
});

const fgw = async (options: Record<string, unknown> | true = true) => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-fgw': options } } });
  return { algorithm: rt.resolve('rd:fgw'), close: () => rt.close().then(() => undefined) };
};

distortionConformance('rd-fgw (exact, α = 0.5)', () => fgw());
distortionConformance('rd-fgw (exact, α = 0: optimal transport)', () => fgw({ alpha: 0 }));
distortionConformance('rd-fgw (entropic, ε = 0.1)', () => fgw({ method: 'entropic' }), { identityTolerance: 0.01 });

rateConformance('rd-rate', async () => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-rate': true } } });
  return { model: rt.resolve('rate:shannon'), close: () => rt.close().then(() => undefined) };
});

rateConformance('rd-rate (ddof: 1)', async () => {
  const rt = await createRuntime({ config: { logLevel: 'silent', plugins: { 'rd-rate': { ddof: 1 } } } });
  return { model: rt.resolve('rate:shannon'), close: () => rt.close().then(() => undefined) };
});
