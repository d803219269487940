/**
 * DynamoDB on one machine: dynalite, on disk under the data folder by default (LevelDB) or in memory, with every table
 * of functions/shared/tables.ts created when missing (a second start finds them and keeps their items).
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createTableInput, TABLE_KEYS, tableName } from '../../functions/shared/tables.ts';
import { localClientConfig } from './aws-environment.ts';
import { closeServer, listen } from './net.ts';

export interface DynamoStandIn {
  readonly endpoint: string;
  readonly port: number;
  /** Where the data lives: a folder, or undefined in memory. */
  readonly dataPath: string | undefined;
  readonly createdTables: readonly string[];
  close(): Promise<void>;
}

export async function startDynamo(options: {
  host: string;
  port: number;
  environment: string;
  dataDir: string | undefined;
}): Promise<DynamoStandIn> {
  let dataPath: string | undefined;
  if (options.dataDir !== undefined) {
    dataPath = join(options.dataDir, 'dynamodb');
    mkdirSync(dataPath, { recursive: true, mode: 0o700 });
  }
  const server: Server = dynalite({
    ...(dataPath === undefined ? {} : { path: dataPath }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listen(server, options.host, options.port, 'DynamoDB (dynalite)');
  const endpoint = `http://${options.host}:${port}`;
  const client = new DynamoDBClient(localClientConfig(endpoint));
  try {
    const createdTables = await ensureTables(client, options.environment);
    return {
      endpoint,
      port,
      dataPath,
      createdTables,
      close: () => closeServer(server),
    };
  } catch (error) {
    await closeServer(server);
    throw error;
  } finally {
    client.destroy();
  }
}

/** Creates the tables that do not exist yet; returns the names it created. */
export async function ensureTables(client: DynamoDBClient, environment: string): Promise<string[]> {
  const existing = new Set<string>();
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const name of page.TableNames ?? []) existing.add(name);
    start = page.LastEvaluatedTableName;
  } while (start !== undefined);
  const created: string[] = [];
  for (const key of TABLE_KEYS) {
    const name = tableName(environment, key);
    if (existing.has(name)) continue;
    await client.send(new CreateTableCommand(createTableInput(environment, key)));
    created.push(name);
  }
  return created;
}
