// Writes manifests/prometheusrule-thresholds.yaml from a service catalog (default manifests/catalog.yaml):
// `npx tsx scripts/threshold-rules.ts [catalog.yaml] [out.yaml]`.
import { writeFileSync } from 'node:fs';
import { buildThresholdRules } from '../src/alerts/threshold-rules.js';
import { loadCatalog } from '../src/config/load-catalog.js';

const [catalogPath = 'manifests/catalog.yaml', out = 'manifests/prometheusrule-thresholds.yaml'] =
  process.argv.slice(2);
writeFileSync(out, buildThresholdRules(loadCatalog(catalogPath)));
console.error(`wrote ${out} from ${catalogPath}`);
