/**
 * Both built-in knee detectors run the knee-detector conformance suite (`limit-graph/testing`), each
 * from a fresh runtime per test: Kneedle told each curve's shape, Menger (shape-blind) in raw and in
 * normalised coordinates — only the normalised variant promises invariance under rescaling.
 */
import { createRuntime } from 'limit-graph';
import { kneeConformance, type KneeShape } from 'limit-graph/testing';

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
