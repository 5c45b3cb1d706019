/**
 * Child of rd-tools.test.ts: draws the curve given as JSON in argv[2] with renderRdCurveSvg and
 * prints the SVG. In a process of its own so that a drawing that never ends (the tick loop once
 * did, for a range of a few ulps) is killed by the test's timeout instead of hanging the test run.
 */
import { renderRdCurveSvg } from 'limit-graph';

const points = JSON.parse(process.argv[2]!) as { x: number; y: number }[];
process.stdout.write(renderRdCurveSvg(points, { knee: 1 }));
