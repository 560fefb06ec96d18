// Mocha's spec reporter plus one plain closing line ("mocha: N passed, N failed, N skipped") that
// CI systems read without knowing mocha's own summary format.
import * as Mocha from "mocha";

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // Registered after the spec reporter's handler, so it prints below mocha's own summary.
      console.log(`mocha: ${passes} passed, ${failures} failed, ${pending} skipped`);
    });
  }
}

export = SummaryReporter;
