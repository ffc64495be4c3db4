"""Seed 004's quick start examples that name ``backend_type="sqlite"``, run as written.

Each example is the seed's code, verbatim, run as a ``__main__`` script in a fresh current
directory (so its database lands in ``./.omniq/<project>.db``, as a user's would). The only
edits are the seed's long waits (seconds instead of minutes, a few seconds instead of
``time.sleep(120)``), each marked below; the printed output is what the tests check.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_example(code: str, **names: object) -> None:
    """Run ``code`` as a script would run: as ``__main__``, its functions travel by value."""
    exec(compile(code, "<seed 004 example>", "exec"), {"__name__": "__main__", **names})


QUICK_EXAMPLE = '''
from omniq import OmniQ

# Define a simple task
def add_numbers(x, y):
    return x + y

# Create an OmniQ instance with SQLite backend
with OmniQ(project_name="my_project", backend_type="sqlite") as oq:
    # Start a worker
    oq.start_worker(worker_type="thread_pool", max_workers=2)

    try:
        # Enqueue a task
        task_id = oq.enqueue(
            func=add_numbers,
            func_args={"x": 5, "y": 10}
        )

        # Get the result
        result = oq.get_result(task_id)
        print(f"Result: {result}")  # Output: Result: 15

    finally:
        # Stop the worker
        oq.stop_worker()
'''

BASIC_SETUP = '''
from omniq import OmniQ

# Define a simple task function
def add_numbers(x, y):
    """Add two numbers and return the result."""
    return x + y

# Create an OmniQ instance with SQLite backend
with OmniQ(project_name="my_project", backend_type="sqlite") as oq:
    # Start a worker
    oq.start_worker(worker_type="thread_pool", max_workers=2)

    try:
        # Enqueue a task
        task_id = oq.enqueue(
            func=add_numbers,
            func_args={"x": 5, "y": 10}
        )
        print(f"Enqueued task with ID: {task_id}")

        # Get the result
        result = oq.get_result(task_id)
        print(f"Result: {result}")  # Output: Result: 15

    finally:
        # Stop the worker
        oq.stop_worker()
'''

ASYNC_USAGE = '''
import asyncio
from omniq import OmniQ

# Define an async task function
async def async_add_numbers(x, y):
    """Asynchronously add two numbers and return the result."""
    await asyncio.sleep(0.1)  # Simulate async work
    return x + y

async def main():
    # Create an OmniQ instance with SQLite backend
    async with OmniQ(project_name="my_async_project", backend_type="sqlite") as oq:
        # Start a worker
        await oq.start_worker_async(worker_type="async", max_workers=2)

        try:
            # Enqueue a task
            task_id = await oq.enqueue_async(
                func=async_add_numbers,
                func_args={"x": 5, "y": 10}
            )
            print(f"Enqueued task with ID: {task_id}")

            # Get the result
            result = await oq.get_result_async(task_id)
            print(f"Result: {result}")  # Output: Result: 15

        finally:
            # Stop the worker
            await oq.stop_worker_async()

# Run the async example
asyncio.run(main())
'''

MULTIPLE_TASKS = '''
import time
from omniq import OmniQ

def process_data(data_id, processing_time=0.1):
    """Process some data with a simulated delay."""
    time.sleep(processing_time)
    return f"Processed data {data_id}"

with OmniQ(project_name="multi_task_project", backend_type="sqlite") as oq:
    # Start a worker with multiple threads
    oq.start_worker(worker_type="thread_pool", max_workers=4)

    try:
        # Enqueue multiple tasks
        task_ids = []
        for i in range(5):
            task_id = oq.enqueue(
                func=process_data,
                func_args={"data_id": i, "processing_time": 0.1}
            )
            task_ids.append(task_id)

        print(f"Enqueued {len(task_ids)} tasks")

        # Get all results
        results = []
        for task_id in task_ids:
            result = oq.get_result(task_id)
            results.append(result)
            print(f"Task {task_id}: {result}")

        print(f"Processed {len(results)} tasks")

    finally:
        # Stop the worker
        oq.stop_worker()
'''

TASK_SCHEDULING = '''
import datetime as dt
from omniq import OmniQ

def scheduled_task(name):
    """A task that can be scheduled."""
    return f"Hello, {name}!"

with OmniQ(project_name="scheduled_project", backend_type="sqlite") as oq:
    # Start a worker
    oq.start_worker(worker_type="thread_pool", max_workers=2)

    try:
        # Schedule a task to run in 10 seconds
        task_id = oq.enqueue(
            func=scheduled_task,
            func_args={"name": "World"},
            run_in=dt.timedelta(seconds=0.5)  # EDIT: seed says seconds=10
        )
        print(f"Scheduled task with ID: {task_id}")

        # Schedule a recurring task every minute
        schedule_id = oq.schedule(
            func=scheduled_task,
            func_args={"name": "Recurring"},
            interval=dt.timedelta(seconds=1),  # EDIT: seed says minutes=1
            max_runs=3
        )
        print(f"Scheduled recurring task with ID: {schedule_id}")

        # Wait for tasks to complete
        print("Waiting for tasks to complete...")
        time.sleep(5)  # EDIT: seed says time.sleep(120)

        # Get the result of the scheduled task
        result = oq.get_result(task_id)
        print(f"Scheduled task result: {result}")

        # Get the results of the recurring task
        schedule_results = oq.get_result(schedule_id=schedule_id, kind="all")
        print(f"Recurring task results: {len(schedule_results)} runs")
        for i, result in enumerate(schedule_results):
            print(f"  Run {i+1}: {result}")

    finally:
        # Stop the worker
        oq.stop_worker()
'''

MULTIPLE_QUEUES = '''
from omniq import OmniQ

def process_task(task_name, priority):
    """Process a task with a given priority."""
    return f"Processed {task_name} with priority {priority}"

with OmniQ(
    project_name="multi_queue_project",
    backend_type="sqlite",
    queues=["high", "medium", "low"]
) as oq:
    # Start a worker
    oq.start_worker(worker_type="thread_pool", max_workers=2)

    try:
        # Enqueue tasks to different queues
        high_task_id = oq.enqueue(
            func=process_task,
            func_args={"task_name": "High Priority", "priority": "high"},
            queue_name="high"
        )

        medium_task_id = oq.enqueue(
            func=process_task,
            func_args={"task_name": "Medium Priority", "priority": "medium"},
            queue_name="medium"
        )

        low_task_id = oq.enqueue(
            func=process_task,
            func_args={"task_name": "Low Priority", "priority": "low"},
            queue_name="low"
        )

        print(f"Enqueued tasks to high, medium, and low priority queues")

        # Get all results
        high_result = oq.get_result(high_task_id)
        medium_result = oq.get_result(medium_task_id)
        low_result = oq.get_result(low_task_id)

        print(f"High priority task: {high_result}")
        print(f"Medium priority task: {medium_result}")
        print(f"Low priority task: {low_result}")

    finally:
        # Stop the worker
        oq.stop_worker()
'''

CONFIGURATION = '''
from omniq import OmniQ

# Create a configuration file
config_content = """
project_name: config_example
task_queue:
  type: sqlite
  config:
    queues:
      - high
      - medium
      - low
result_store:
  type: sqlite
event_store:
  type: sqlite
worker:
  type: thread_pool
  config:
    max_workers: 4
"""

# Write the configuration to a file
with open("config.yaml", "w") as f:
    f.write(config_content)

# Load configuration from the file
with OmniQ.from_config_file("config.yaml") as oq:
    # Start a worker
    oq.start_worker()

    try:
        # Enqueue a task
        task_id = oq.enqueue(
            func=lambda: "Hello from configured OmniQ!",
            queue_name="high"
        )

        # Get the result
        result = oq.get_result(task_id)
        print(f"Result: {result}")

    finally:
        # Stop the worker
        oq.stop_worker()
'''


def test_quick_example(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(QUICK_EXAMPLE)
    assert capsys.readouterr().out == "Result: 15\n"
    assert (in_tmp / ".omniq" / "my_project.db").exists()


def test_basic_setup(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(BASIC_SETUP)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Enqueued task with ID: ") and out[1:] == ["Result: 15"]
    assert (in_tmp / ".omniq" / "my_project.db").exists()


def test_asynchronous_usage(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(ASYNC_USAGE)
    assert capsys.readouterr().out.splitlines()[1:] == ["Result: 15"]
    assert (in_tmp / ".omniq" / "my_async_project.db").exists()


def test_multiple_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(MULTIPLE_TASKS)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Enqueued 5 tasks" and out[-1] == "Processed 5 tasks"
    assert [line.split(": ", 1)[1] for line in out[1:-1]] == [
        f"Processed data {i}" for i in range(5)]


def test_task_scheduling(capsys: pytest.CaptureFixture[str]) -> None:
    # The seed uses time.sleep without importing time; the script's namespace provides it.
    run_example(TASK_SCHEDULING, time=time)
    out = capsys.readouterr().out.splitlines()
    assert "Scheduled task result: Hello, World!" in out
    assert "Recurring task results: 3 runs" in out
    assert [line for line in out if line.startswith("  Run ")] == [
        f"  Run {i}: Hello, Recurring!" for i in (1, 2, 3)]


def test_multiple_queues(capsys: pytest.CaptureFixture[str]) -> None:
    run_example(MULTIPLE_QUEUES)
    assert capsys.readouterr().out.splitlines()[1:] == [
        "High priority task: Processed High Priority with priority high",
        "Medium priority task: Processed Medium Priority with priority medium",
        "Low priority task: Processed Low Priority with priority low",
    ]


def test_configuration(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(CONFIGURATION)
    assert capsys.readouterr().out == "Result: Hello from configured OmniQ!\n"
    assert (in_tmp / ".omniq" / "config_example.db").exists()
