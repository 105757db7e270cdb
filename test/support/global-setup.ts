// vitest globalSetup for integration and e2e tests: one test world for the run, torn down at the end.
import type { TestProject } from 'vitest/node';
import { startWorld, type WorldInfo } from './world/world.js';

declare module 'vitest' {
  export interface ProvidedContext {
    world: WorldInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const world = await startWorld();
  project.provide('world', world.info);
  return async () => {
    await world.stop();
  };
}
