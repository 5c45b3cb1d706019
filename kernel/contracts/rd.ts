/** An attributed graph for FGW: node features and (optionally weighted) edges. */
export interface AttributedGraph {
  nodes: { id: string; features: number[]; weight?: number }[];
  edges: { source: string; target: string; weight?: number }[];
  directed?: boolean;
}

export interface DistortionOptions {
  alpha?: number;
  method?: 'exact' | 'entropic';
  epsilon?: number;
  maxIter?: number;
}

export interface DistortionResult {
  value: number;
  iterations: number;
  converged: boolean;
  /** Sparse coupling [i, j, mass]. */
  plan: [number, number, number][];
}

/** A distortion measure between two graphs (`rd:<name>` in the container). */
export interface RdAlgorithm {
  readonly name: string;
  distortion(source: AttributedGraph, target: AttributedGraph, options?: DistortionOptions): DistortionResult;
}

export interface KneeResult {
  /** Index into the caller's points, or null when there is no knee. */
  index: number | null;
}

/** A knee detector (`knee:<name>` in the container). */
export interface KneeDetector {
  readonly name: string;
  detect(points: { x: number; y: number }[], options?: Record<string, unknown>): KneeResult;
}
