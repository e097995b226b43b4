System.Console.WriteLine("kafscale");
