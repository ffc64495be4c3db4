"""Task functions of the seed examples, importable so process workers can run them too."""

from __future__ import annotations

import asyncio
import time


def simple_task(name):
    print(f"Hello {name}")
    return name


async def async_task(name):
    print(f"Hello {name}")
    return name


def add_numbers(x, y):
    return x + y


async def async_add_numbers(x, y):
    await asyncio.sleep(0.01)
    return x + y


def sync_task(x, y):
    return x * y


async def async_xy(x, y):
    await asyncio.sleep(0.01)
    return x + y


def process_data(data_id, processing_time=0.1):
    time.sleep(processing_time)
    return f"Processed data {data_id}"


def process_task(task_name, priority):
    return f"Processed {task_name} with priority {priority}"


def scheduled_task(name):
    return f"Hello, {name}!"


def slow_square(x):
    time.sleep(0.6)
    return x * x


def record_pid_and_sleep(path, seconds):
    """Write this process's id to ``path``, then sleep (a task whose child a test can watch)."""
    import os
    from pathlib import Path

    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
