new_job_definition = client.job.create_compare_job_definition(
    name="Prompt Alignment Job, all pairs",
    instruction="Which image follows the prompt more accurately?",
    datapoints=DATAPOINTS,
    contexts=PROMPTS,
)

audiences = client.audience.find_audiences("Custom Prompt Alignment Audience")
audience = client.audience.get_audience_by_id(audiences[0].id)

job = audience.assign_job(new_job_definition)
job.display_progress_bar()
new_results = job.get_results()
