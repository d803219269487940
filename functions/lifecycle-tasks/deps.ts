/**
 * Everything the lifecycle tasks talk to. The AWS entry points build it from the environment (aws-deps.ts); tests
 * and the one-machine runtime pass local implementations.
 */
import type { AuditLog } from '../credentials/audit-log.ts';
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerKeyStore } from '../crypto/customer-keys.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { DebugCaptureStore } from '../debug-captures/debug-capture-store.ts';
import type {
  Clock,
  CustomerDataStore,
  IncidentReportStore,
  InitialLoadStarter,
  RecentWritesSource,
  SyncControl,
  VirtuousConnector,
} from '../lifecycle/ports.ts';
import type { SecretAccessTrail } from '../lifecycle/secret-access-trail.ts';
import type { LifecycleSettings } from '../lifecycle/settings.ts';
import type { Notifier } from '../notifications/notifier.ts';

export interface LifecycleDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly settings: LifecycleSettings;
  readonly syncControl: SyncControl;
  readonly initialLoads: InitialLoadStarter;
  readonly customerData: CustomerDataStore;
  readonly debugCaptures: DebugCaptureStore;
  readonly recentWrites: RecentWritesSource;
  readonly audit: Pick<AuditLog, 'accessesBetween'>;
  readonly incidentReports: IncidentReportStore;
  /** What the secrets manager itself recorded: CloudTrail on AWS, the local store's access records on one machine. */
  readonly secretAccessTrail: SecretAccessTrail;
  /** Each customer's data key (offboarding destroys it). */
  readonly customerKeys: CustomerKeyStore;
}
