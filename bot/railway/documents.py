"""Every GraphQL document the Railway client can send, in one place.

tests/test_railway_documents.py validates each entry of ``ALL_DOCUMENTS`` against Railway's real
schema. ``deploymentRollback`` and ``deploymentRestart`` return ``Boolean!``, so they take no
sub-selection (the docs' examples that select ``{ id status }`` are invalid).
"""

from __future__ import annotations

DEPLOYMENT_FIELDS = """
fragment DeploymentFields on Deployment {
  id
  status
  createdAt
  canRollback
  canRedeploy
  meta
  serviceId
  environmentId
  projectId
  url
  staticUrl
}
"""

_NAMED_NODES = "edges { node { id name } }"

PROJECT_TOKEN = f"""
query ProjectToken {{
  projectToken {{
    projectId
    environmentId
    project {{ id name services {{ {_NAMED_NODES} }} }}
    environment {{ id name }}
  }}
}}
"""

PROJECTS = f"""
query Projects($first: Int, $after: String) {{
  projects(first: $first, after: $after) {{
    edges {{
      node {{
        id
        name
        environments {{ {_NAMED_NODES} }}
        services {{ {_NAMED_NODES} }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

PROJECT = f"""
query Project($id: String!) {{
  project(id: $id) {{
    id
    name
    environments {{ {_NAMED_NODES} }}
    services {{ {_NAMED_NODES} }}
  }}
}}
"""

DEPLOYMENTS = """
query Deployments($input: DeploymentListInput!, $first: Int) {
  deployments(input: $input, first: $first) {
    edges { node { ...DeploymentFields } }
  }
}
""" + DEPLOYMENT_FIELDS

SERVICE_INSTANCE = """
query ServiceInstance($serviceId: String!, $environmentId: String!) {
  serviceInstance(serviceId: $serviceId, environmentId: $environmentId) {
    serviceName
    latestDeployment { ...DeploymentFields }
    activeDeployments { ...DeploymentFields }
  }
}
""" + DEPLOYMENT_FIELDS

DEPLOYMENT = """
query Deployment($id: String!) {
  deployment(id: $id) { ...DeploymentFields }
}
""" + DEPLOYMENT_FIELDS

DEPLOYMENT_ROLLBACK = """
mutation DeploymentRollback($id: String!) {
  deploymentRollback(id: $id)
}
"""

DEPLOYMENT_REDEPLOY = """
mutation DeploymentRedeploy($id: String!) {
  deploymentRedeploy(id: $id) { ...DeploymentFields }
}
""" + DEPLOYMENT_FIELDS

DEPLOYMENT_RESTART = """
mutation DeploymentRestart($id: String!) {
  deploymentRestart(id: $id)
}
"""

_LOG_FIELDS = "timestamp message severity attributes { key value }"

DEPLOYMENT_LOGS = f"""
query DeploymentLogs($deploymentId: String!, $filter: String, $limit: Int,
                     $startDate: DateTime, $endDate: DateTime) {{
  deploymentLogs(deploymentId: $deploymentId, filter: $filter, limit: $limit,
                 startDate: $startDate, endDate: $endDate) {{ {_LOG_FIELDS} }}
}}
"""

ENVIRONMENT_LOGS = f"""
query EnvironmentLogs($environmentId: String!, $filter: String, $anchorDate: String,
                      $beforeDate: String, $afterDate: String, $beforeLimit: Int) {{
  environmentLogs(environmentId: $environmentId, filter: $filter, anchorDate: $anchorDate,
                  beforeDate: $beforeDate, afterDate: $afterDate, beforeLimit: $beforeLimit) {{
    {_LOG_FIELDS}
    tags {{ deploymentId serviceId }}
  }}
}}
"""

VARIABLES = """
query Variables($projectId: String!, $environmentId: String!, $serviceId: String) {
  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId)
}
"""

METRICS = """
query Metrics($projectId: String, $environmentId: String, $serviceId: String,
              $measurements: [MetricMeasurement!]!, $startDate: DateTime!, $endDate: DateTime,
              $sampleRateSeconds: Int) {
  metrics(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId,
          measurements: $measurements, startDate: $startDate, endDate: $endDate,
          sampleRateSeconds: $sampleRateSeconds) {
    measurement
    values { ts value }
  }
}
"""

VOLUME_INSTANCES = """
query VolumeInstances($environmentId: String!) {
  environment(id: $environmentId) {
    volumeInstances { edges { node { id serviceId mountPath currentSizeMB sizeMB } } }
  }
}
"""

_BACKUP_FIELDS = "id name createdAt expiresAt usedMB referencedMB scheduleId"

VOLUME_BACKUPS = f"""
query VolumeBackups($volumeInstanceId: String!) {{
  volumeInstanceBackupList(volumeInstanceId: $volumeInstanceId) {{ {_BACKUP_FIELDS} }}
}}
"""

VOLUME_BACKUP_SCHEDULES = """
query VolumeBackupSchedules($volumeInstanceId: String!) {
  volumeInstanceBackupScheduleList(volumeInstanceId: $volumeInstanceId) { id name kind cron retentionSeconds }
}
"""

VOLUME_BACKUP_CREATE = """
mutation VolumeBackupCreate($volumeInstanceId: String!, $name: String) {
  volumeInstanceBackupCreate(volumeInstanceId: $volumeInstanceId, name: $name) { workflowId }
}
"""

VOLUME_BACKUP_RESTORE = """
mutation VolumeBackupRestore($volumeInstanceId: String!, $volumeInstanceBackupId: String!) {
  volumeInstanceBackupRestore(volumeInstanceId: $volumeInstanceId,
                              volumeInstanceBackupId: $volumeInstanceBackupId) { workflowId }
}
"""

WORKFLOW_STATUS = """
query WorkflowStatus($workflowId: String!) {
  workflowStatus(workflowId: $workflowId) { status error }
}
"""

# Operation name → document; the client sends nothing that is not listed here.
ALL_DOCUMENTS: dict[str, str] = {
    "ProjectToken": PROJECT_TOKEN,
    "Projects": PROJECTS,
    "Project": PROJECT,
    "Deployments": DEPLOYMENTS,
    "ServiceInstance": SERVICE_INSTANCE,
    "Deployment": DEPLOYMENT,
    "DeploymentRollback": DEPLOYMENT_ROLLBACK,
    "DeploymentRedeploy": DEPLOYMENT_REDEPLOY,
    "DeploymentRestart": DEPLOYMENT_RESTART,
    "DeploymentLogs": DEPLOYMENT_LOGS,
    "EnvironmentLogs": ENVIRONMENT_LOGS,
    "Variables": VARIABLES,
    "Metrics": METRICS,
    "VolumeInstances": VOLUME_INSTANCES,
    "VolumeBackups": VOLUME_BACKUPS,
    "VolumeBackupSchedules": VOLUME_BACKUP_SCHEDULES,
    "VolumeBackupCreate": VOLUME_BACKUP_CREATE,
    "VolumeBackupRestore": VOLUME_BACKUP_RESTORE,
    "WorkflowStatus": WORKFLOW_STATUS,
}

MUTATIONS = frozenset({"DeploymentRollback", "DeploymentRedeploy", "DeploymentRestart", "VolumeBackupCreate",
                       "VolumeBackupRestore"})
