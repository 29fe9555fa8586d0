"""The App Home tab: one person's view of every service's verdict, the open incidents, the changes waiting
for their approval (Approve/Reject through ``RollbackFlow.decide``), their own requests and the last
deployments. It imports the store, the change flow and the shared Block Kit builders; the composition
root builds it and the Home handlers call it.
"""
