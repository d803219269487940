/**
 * The Lambda entry of a workflow's task function. AWS wiring is imported and built on the first invocation only, so
 * the one-machine runtime and the tests, which import the same task modules, never load it.
 */
import type { LifecycleDeps } from './deps.ts';
import { createTaskDispatcher } from './dispatch.ts';
import type { TaskResult, TaskTable } from './task-event.ts';

export function awsTaskHandler(
  createTasks: (deps: LifecycleDeps) => TaskTable,
): (event: unknown) => Promise<TaskResult> {
  let dispatch: ((event: unknown) => Promise<TaskResult>) | undefined;
  return async (event) => {
    if (dispatch === undefined) {
      const { createAwsLifecycleDeps } = await import('./aws-deps.ts');
      dispatch = createTaskDispatcher(createTasks(createAwsLifecycleDeps()));
    }
    return dispatch(event);
  };
}
